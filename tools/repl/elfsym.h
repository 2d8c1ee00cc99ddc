/* elfsym.h — a small ELF64 symbol table reader for the REPL (symbol names
 * in addresses, `sym`, `addr`, `dis`).  The core's loader only loads
 * segments; symbols are a debugger concern, so they are read here. */
#ifndef VMPY_REPL_ELFSYM_H
#define VMPY_REPL_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vr_sym {
    uint64_t addr, size;
    const char *name;     /* points into the table's string pool */
    unsigned char type;   /* STT_* */
    unsigned char bind;   /* STB_* */
} vr_sym;

typedef struct vr_symtab {
    vr_sym *syms;         /* sorted by address, best name first at equal addresses */
    size_t n;
    size_t *byname;       /* indices into syms sorted by name */
    char *pool;           /* copy of the string table */
} vr_symtab;

/* Reads .symtab (or .dynsym) of the ELF64 little-endian file at path,
 * replacing t's contents.  Returns 0, or -1 with a message in err. */
int vr_symtab_load(vr_symtab *t, const char *path, char *err, size_t errlen);
void vr_symtab_free(vr_symtab *t);
const vr_sym *vr_sym_by_name(const vr_symtab *t, const char *name);
/* The symbol that covers addr (or the nearest one below it when its size is
 * unknown), or NULL. */
const vr_sym *vr_sym_at(const vr_symtab *t, uint64_t addr);

#endif
