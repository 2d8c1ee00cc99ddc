/* argv, envp and the auxiliary vector as a static program sees them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv, char **envp)
{
    /* Sorted: qemu-user hands the environment over in reverse order. */
    char *mine[64];
    int n = 0;
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    for (char **e = envp; *e && n < 64; e++)
        if (strncmp(*e, "VMPYTEST_", 9) == 0)
            mine[n++] = *e;
    qsort(mine, n, sizeof *mine, cmp);
    for (int i = 0; i < n; i++)
        printf("env %s\n", mine[i]);
    printf("argv[argc]=%p\n", (void *)argv[argc]);
    printf("phdr=%#lx phnum=%lu entry=%#lx base=%lu flags=%lu clktck=%lu\n", getauxval(AT_PHDR),
           getauxval(AT_PHNUM), getauxval(AT_ENTRY), getauxval(AT_BASE), getauxval(AT_FLAGS),
           getauxval(AT_CLKTCK));
    printf("ids=%lu,%lu,%lu,%lu\n", getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
    printf("pagesz=%lu secure=%lu phent=%lu\n", getauxval(AT_PAGESZ), getauxval(AT_SECURE), getauxval(AT_PHENT));
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    printf("random present: %d\n", r != NULL);
    printf("execfn=%s\n", (const char *)getauxval(AT_EXECFN));
    printf("sp aligned: %d\n", ((unsigned long)__builtin_frame_address(0) & 15) == 0);
    return argc;
}
