/* Floating-point workload: double-precision n-body simulation and a double
 * matrix multiply.  Built with -ffp-contract=off on every target so no FMA
 * fusing changes rounding; the printed checksum then matches native.
 * argv[1] scales the work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NB 5
typedef struct { double x, y, z, vx, vy, vz, m; } body_t;

static void nbody_init(body_t *b)
{
    for (int i = 0; i < NB; i++) {
        b[i].x = i * 1.25 - 2.0;  b[i].y = (i % 3) * 0.75; b[i].z = i * 0.1;
        b[i].vx = 0.01 * i;       b[i].vy = -0.02 * (i % 2); b[i].vz = 0.003;
        b[i].m = 1.0 + 0.5 * i;
    }
}

static void nbody_step(body_t *b, double dt)
{
    for (int i = 0; i < NB; i++)
        for (int j = i + 1; j < NB; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz + 0.01;
            double mag = dt / (d2 * sqrt(d2));
            b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag; b[i].vz -= dz * b[j].m * mag;
            b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag; b[j].vz += dz * b[i].m * mag;
        }
    for (int i = 0; i < NB; i++) {
        b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; b[i].z += dt * b[i].vz;
    }
}

static double energy(const body_t *b)
{
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < NB; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz + 0.01);
        }
    }
    return e;
}

#define N 80
static double A[N][N], B[N][N], C[N][N];

static double matmul(int seed)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            A[i][j] = ((i * 7 + j * 3 + seed) % 17) / 16.0 - 0.5;
            B[i][j] = ((i * 5 + j * 11 + seed) % 13) / 12.0 + 0.25;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += A[i][k] * B[k][j];
            C[i][j] = s;
        }
    double t = 0;
    for (int i = 0; i < N; i++) t += C[i][(i * 13) % N] * (i + 1);
    return t;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 6;
    body_t b[NB];
    nbody_init(b);
    double mm = 0;
    for (int r = 0; r < reps; r++) {
        for (int s = 0; s < 60000; s++) nbody_step(b, 0.001);
        mm += matmul(r);
    }
    printf("fp energy=%.12e matmul=%.12e x0=%.12e\n", energy(b), mm, b[0].x);
    return 0;
}
