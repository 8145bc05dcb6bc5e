//go:build ignore

// layout.c: nothing but spawn.h, compiled with every type's debugging
// information kept, so that child_linux_amd64.syso carries the C
// compiler's own layout of each record and each enum; TestLayoutMatchesC
// reads it (DWARF) and compares it with plan.go's twins. Only this file is
// compiled with -g: the child's code needs no debugging information.
#include "spawn.h"
