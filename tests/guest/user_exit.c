/* Exit paths: exit(argv[1]), return from main, abort(), _exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("mode %s\n", argc > 1 ? argv[1] : "none");
    fflush(stdout);
    if (argc < 2) return 42;
    if (strcmp(argv[1], "abort") == 0) abort();
    if (strcmp(argv[1], "_exit") == 0) _exit(9);
    exit(atoi(argv[1]));
}
