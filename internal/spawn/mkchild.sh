#!/bin/sh
# mkchild.sh: build the C side of spawn (steps.c, init.c, janitor.c, sys.c,
# entry.c)
# into child_linux_amd64.syso, the object Go's own linker links into nook
# without cgo. Run by `go generate ./internal/spawn` or `make child` after
# a change to any *.c or *.h file here, or to this script; the result is
# committed, so that building nook needs no C compiler, and
# TestChildObjectUpToDate fails while it is stale.
#
# The C is compiled freestanding: no libc, no start files, no stack
# protector (it would read the thread pointer, which the child points at
# its own block), no unwind tables. Then it is linked here, into one block
# of position-independent code and read-only data with every reference
# inside it resolved, and that block is wrapped as a single .text section
# with one global symbol, a header that locates the entry points in it,
# and no relocations at all: Go's linker, linking statically without
# cgo, drops the relocations of a host object without a word (it applies
# them only while it builds a dynamic executable), so there must be none.
# layout.c adds the DWARF of spawn.h's types, which Go's linker skips and
# TestLayoutMatchesC reads.
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
out=child_linux_amd64.syso
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cflags="-std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Werror -m64
  -ffreestanding -fno-builtin -nostdlib -fno-stack-protector -fno-stack-clash-protection
  -fPIE -fvisibility=hidden -fno-asynchronous-unwind-tables -fno-unwind-tables
  -fno-tree-loop-distribute-patterns -fcf-protection=none -fno-jump-tables
  -fno-tree-vectorize -fno-common -ffile-prefix-map=$PWD=."
for f in steps init janitor sys entry; do
	# shellcheck disable=SC2086
	$CC $cflags -c "$f.c" -o "$tmp/$f.o"
done

# only PC-relative references: the block may land anywhere
bad=$(readelf -rW "$tmp"/steps.o "$tmp"/init.o "$tmp"/janitor.o "$tmp"/sys.o "$tmp"/entry.o |
	awk '$3 ~ /^R_X86_64_/ && $3 != "R_X86_64_PC32" && $3 != "R_X86_64_PLT32" {print $3, $5}')
if [ -n "$bad" ]; then
	echo "mkchild.sh: relocations that are not PC-relative (a table of pointers?):" >&2
	echo "$bad" >&2
	exit 1
fi
cat >"$tmp/child.ld" <<'LD'
SECTIONS {
	. = 0;
	.text : { *(.text .text.*) . = ALIGN(16); *(.rodata .rodata.*) }
	.data : { *(.data .data.* .bss .bss.* COMMON) }
	/DISCARD/ : { *(.comment) *(.note*) *(.eh_frame*) }
}
LD
ld -static -nostdlib -e nook_child_main -T "$tmp/child.ld" -o "$tmp/child.elf" \
	"$tmp"/steps.o "$tmp"/init.o "$tmp"/janitor.o "$tmp"/sys.o "$tmp"/entry.o
# no writable data: a child that shares nook's memory would share it with
# every other child
if readelf -SW "$tmp/child.elf" | awk '$2 == ".data" && $6 !~ /^0+$/ {found = 1} END {exit !found}'; then
	echo "mkchild.sh: the child has writable data" >&2
	exit 1
fi
objcopy -O binary -j .text "$tmp/child.elf" "$tmp/child.bin"
off() { nm "$tmp/child.elf" | awk -v s="$1" '$3 == s {print "0x" $1}'; }
# one symbol, nook_child, covers it all (Go's linker wants every byte of
# text in some symbol); its 64-byte header says where the entry points,
# the step-size table and the entry's names are, as offsets from
# nook_child (childHeader)
cat >"$tmp/text.s" <<S
	.section .text,"ax",@progbits
	.p2align 6
	.globl nook_child
	.type nook_child, @function
nook_child:
	.quad 64 + $(off nook_child_main), 64 + $(off nook_janitor_main), 64 + $(off nook_step_size)
	.quad 64 + $(off nook_entry_main), 64 + $(off nook_quick_file), 64 + $(off nook_names_dir)
	.quad 64 + $(off nook_default_root), 64 + $(off nook_run_dir)
	.p2align 6
	.incbin "$tmp/child.bin"
	.size nook_child, . - nook_child
	.section .note.GNU-stack,"",@progbits
S
as --64 -o "$tmp/text.o" "$tmp/text.s"

# shellcheck disable=SC2086
$CC $cflags -g -fno-eliminate-unused-debug-types -c layout.c -o "$tmp/layout.o"
ld -r -o "$tmp/out.o" "$tmp/text.o" "$tmp/layout.o"

# what the sources were: TestChildObjectUpToDate compares it with the
# sources beside the object
LC_ALL=C ls *.c *.h mkchild.sh | LC_ALL=C sort | xargs cat | sha256sum | cut -d' ' -f1 | tr -d '\n' >"$tmp/hash"
objcopy --remove-section=.comment --remove-section=.data --remove-section=.bss \
	--add-section=.nook.source="$tmp/hash" "$tmp/out.o" "$out"
