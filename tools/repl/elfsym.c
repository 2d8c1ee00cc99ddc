/* elfsym.c — reads the symbol table of an ELF64 little-endian file.
 *
 * Everything read from the file is bounds-checked: a truncated or hostile
 * ELF gives an error message, never a crash. */
#include "elfsym.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((size_t)1 << 30)

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static unsigned char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    unsigned char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || (size_t)size > MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: not a regular file of sane size", path);
    } else if (!(buf = malloc((size_t)size + 1))) {
        snprintf(err, errlen, "out of memory");
    } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)(size < 0 ? 0 : size);
    return buf;
}

static int in_file(size_t len, uint64_t off, uint64_t size)
{
    return off <= len && size <= len - off;
}

/* Better names sort first at equal addresses: functions and objects over
 * untyped labels, globals over locals. */
static int rank(const vr_sym *s)
{
    int r = 0;
    if (s->type == STT_FUNC || s->type == STT_OBJECT)
        r += 2;
    if (s->bind == STB_GLOBAL)
        r += 1;
    return -r;
}

static int by_addr(const void *a, const void *b)
{
    const vr_sym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    int d = rank(x) - rank(y);
    return d ? d : strcmp(x->name, y->name);
}

static const vr_sym *sort_base;
static int by_name(const void *a, const void *b)
{
    const vr_sym *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    int d = strcmp(x->name, y->name);
    return d ? d : rank(x) - rank(y);
}

static int keep(const Elf64_Sym *s, const char *name)
{
    int type = ELF64_ST_TYPE(s->st_info);
    if (s->st_shndx == SHN_UNDEF || !name[0] || name[0] == '$' || !strncmp(name, ".L", 2))
        return 0;
    return type == STT_FUNC || type == STT_OBJECT || type == STT_NOTYPE || type == STT_GNU_IFUNC;
}

/* Copies the symbols of section sh (strings in section strsh) into t. */
static int take_symbols(vr_symtab *t, const unsigned char *img, size_t len,
                        const Elf64_Shdr *sh, const Elf64_Shdr *strsh, char *err, size_t errlen)
{
    if (!in_file(len, sh->sh_offset, sh->sh_size) || !in_file(len, strsh->sh_offset, strsh->sh_size) ||
        sh->sh_entsize != sizeof(Elf64_Sym) || strsh->sh_size == 0)
        return fail(err, errlen, "malformed symbol table");
    size_t count = sh->sh_size / sizeof(Elf64_Sym);
    t->pool = malloc(strsh->sh_size + 1);
    t->syms = calloc(count ? count : 1, sizeof *t->syms);
    if (!t->pool || !t->syms)
        return fail(err, errlen, "out of memory");
    memcpy(t->pool, img + strsh->sh_offset, strsh->sh_size);
    t->pool[strsh->sh_size] = 0;   /* a string table missing its last NUL stays bounded */
    for (size_t i = 0; i < count; i++) {
        Elf64_Sym s;
        memcpy(&s, img + sh->sh_offset + i * sizeof s, sizeof s);
        if (s.st_name >= strsh->sh_size)
            continue;
        const char *name = t->pool + s.st_name;
        if (!keep(&s, name))
            continue;
        t->syms[t->n++] = (vr_sym){ s.st_value, s.st_size, name, (unsigned char)ELF64_ST_TYPE(s.st_info),
                                    (unsigned char)ELF64_ST_BIND(s.st_info) };
    }
    return 0;
}

static int build_indexes(vr_symtab *t, char *err, size_t errlen)
{
    qsort(t->syms, t->n, sizeof *t->syms, by_addr);
    t->byname = malloc((t->n ? t->n : 1) * sizeof *t->byname);
    if (!t->byname)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        t->byname[i] = i;
    sort_base = t->syms;   /* qsort has no context argument in C11 */
    qsort(t->byname, t->n, sizeof *t->byname, by_name);
    return 0;
}

static int parse(vr_symtab *t, const unsigned char *img, size_t len, char *err, size_t errlen)
{
    Elf64_Ehdr eh;
    if (len < sizeof eh || memcmp(img, ELFMAG, SELFMAG))
        return fail(err, errlen, "not an ELF file");
    memcpy(&eh, img, sizeof eh);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, "not a little-endian ELF64 file");
    if (eh.e_shnum == 0)
        return 0;   /* stripped of sections: no symbols, not an error */
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || !in_file(len, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
        return fail(err, errlen, "malformed section headers");
    const Elf64_Shdr *found = NULL;
    Elf64_Shdr sh, strsh, dyn;
    int have_dyn = 0;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr s;
        memcpy(&s, img + eh.e_shoff + (uint64_t)i * sizeof s, sizeof s);
        if (s.sh_type == SHT_SYMTAB) {
            sh = s;
            found = &sh;
            break;
        }
        if (s.sh_type == SHT_DYNSYM && !have_dyn) {
            dyn = s;
            have_dyn = 1;
        }
    }
    if (!found && have_dyn) {
        sh = dyn;
        found = &sh;
    }
    if (!found)
        return 0;
    if (found->sh_link >= eh.e_shnum)
        return fail(err, errlen, "malformed symbol table link");
    memcpy(&strsh, img + eh.e_shoff + (uint64_t)found->sh_link * sizeof strsh, sizeof strsh);
    if (take_symbols(t, img, len, found, &strsh, err, errlen))
        return -1;
    return build_indexes(t, err, errlen);
}

void vr_symtab_free(vr_symtab *t)
{
    free(t->syms);
    free(t->byname);
    free(t->pool);
    memset(t, 0, sizeof *t);
}

int vr_symtab_load(vr_symtab *t, const char *path, char *err, size_t errlen)
{
    size_t len;
    unsigned char *img = slurp(path, &len, err, errlen);
    if (!img)
        return -1;
    vr_symtab fresh = { 0 };
    int rc = parse(&fresh, img, len, err, errlen);
    free(img);
    if (rc) {
        vr_symtab_free(&fresh);
        return -1;
    }
    vr_symtab_free(t);
    *t = fresh;
    return 0;
}

const vr_sym *vr_sym_by_name(const vr_symtab *t, const char *name)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(t->syms[t->byname[mid]].name, name);
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && !strcmp(t->syms[t->byname[lo]].name, name))
        return &t->syms[t->byname[lo]];
    return NULL;
}

/* An unsized label still names the bytes after it, but only nearby. */
#define UNSIZED_REACH 0x1000

const vr_sym *vr_sym_at(const vr_symtab *t, uint64_t addr)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {   /* first symbol above addr */
        size_t mid = lo + (hi - lo) / 2;
        if (t->syms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    /* Go to the first (best-ranked) symbol at that address, then check the
     * few below it for a sized symbol that covers addr. */
    uint64_t at = t->syms[lo - 1].addr;
    size_t i = lo - 1;
    while (i > 0 && t->syms[i - 1].addr == at)
        i--;
    for (size_t j = i;; j--) {
        const vr_sym *s = &t->syms[j];
        if (s->size ? addr - s->addr < s->size : (j == i && addr - s->addr < UNSIZED_REACH))
            return s;
        if (j == 0 || i - j >= 8)
            break;
    }
    return NULL;
}
