/* printf/scanf round trip on stdin/stdout, and stderr output. */
#include <stdio.h>

int main(void)
{
    int n;
    long total = 0;
    double dsum = 0;
    char word[64];
    while (scanf("%d %63s", &n, word) == 2) {
        double d;
        if (scanf("%lf", &d) != 1)
            break;
        total += n;
        dsum += d;
        printf("%-8s|%5d|%+.3e|%x|%o\n", word, n, d, n, n);
    }
    fprintf(stderr, "total=%ld dsum=%.6f\n", total, dsum);
    printf("%s %c %5.2f%% %lld\n", "done", 'Z', 99.5, -1234567890123ll);
    return total > 100 ? 3 : 0;
}
