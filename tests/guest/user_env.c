/* argv, envp and the auxiliary vector as a static program sees them. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    for (char **e = envp; *e; e++)
        if (strncmp(*e, "VMPYTEST_", 9) == 0)
            printf("env %s\n", *e);
    printf("argv[argc]=%p\n", (void *)argv[argc]);
    printf("pagesz=%lu secure=%lu phent=%lu\n", getauxval(AT_PAGESZ), getauxval(AT_SECURE), getauxval(AT_PHENT));
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    printf("random present: %d\n", r != NULL);
    printf("execfn=%s\n", (const char *)getauxval(AT_EXECFN));
    printf("sp aligned: %d\n", ((unsigned long)__builtin_frame_address(0) & 15) == 0);
    return argc;
}
