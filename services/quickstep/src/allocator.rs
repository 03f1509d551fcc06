//! The global allocator: mimalloc, asked for plain `mi_malloc` whenever the alignment is one
//! mimalloc always gives.
//!
//! Executions allocate many small JSON values and free them soon after; mimalloc's size-class
//! caches beat glibc's malloc there by a wide margin (loadtest/README.md has the numbers).
//! The `mimalloc` crate's allocator calls `mi_malloc_aligned` for every allocation, whose
//! alignment checks and extra call layers were 3% of the order machine's instructions
//! (callgrind); this adapter is those few lines with the common case first.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block has, whatever its size: a pointer's. (16 is promised
/// only from some sizes up: a 1-byte block comes from the 8-byte size class — the test
/// below caught that.)
const GUARANTEED_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc's `MI_MAX_ALIGN_SIZE`: on 64-bit targets its size classes from 16 bytes up are
/// whole multiples of 16 and pages start 16-aligned, so every block of at least 16 bytes is
/// 16-aligned (`alloc.c` asserts it on each allocation). hashbrown asks for exactly that
/// alignment for every table, and `mi_malloc_aligned` takes its fast path only while the
/// page's free list is non-empty: in a steady allocate/free loop every other table went
/// through its over-allocating slow path (a fifth of the cost of cloning a small object).
#[cfg(target_pointer_width = "64")]
const MAX_ALIGN: usize = 16;
#[cfg(not(target_pointer_width = "64"))]
const MAX_ALIGN: usize = GUARANTEED_ALIGN;

/// mimalloc as the global allocator.
pub struct MiMalloc;

/// Whether plain `mi_malloc` meets the alignment of a block of `size` bytes.
fn plain(size: usize, align: usize) -> bool {
    align <= GUARANTEED_ALIGN || (align <= MAX_ALIGN && size >= MAX_ALIGN)
}

// SAFETY: every block comes from mimalloc and goes back to it; blocks from `mi_malloc` meet
// any alignment up to GUARANTEED_ALIGN, and up to MAX_ALIGN from MAX_ALIGN bytes on (see
// `plain`); other blocks are asked of the aligned entry points.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr as *mut c_void);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The new block must be plain too: a 16-aligned block shrunk below 16 bytes may move
        // to a class with less alignment.
        if plain(layout.size(), layout.align()) && plain(new_size, layout.align()) {
            mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_asked_for() {
        for align in [1, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 15, 16, 24, 52, 100, 5000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let block = MiMalloc.alloc(layout);
                    assert!(!block.is_null());
                    assert_eq!(block as usize % align, 0, "size {size} align {align}");
                    block.write_bytes(0xab, size);
                    let grown = MiMalloc.realloc(block, layout, size * 3);
                    assert_eq!(grown as usize % align, 0, "realloc keeps the alignment");
                    assert_eq!(*grown.add(size - 1), 0xab, "realloc keeps the bytes");
                    MiMalloc.dealloc(grown, Layout::from_size_align(size * 3, align).unwrap());
                    let zeroed = MiMalloc.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0);
                    assert!((0..size).all(|i| *zeroed.add(i) == 0));
                    MiMalloc.dealloc(zeroed, layout);
                }
            }
        }
    }

    #[test]
    fn shrinking_below_sixteen_bytes_keeps_the_alignment() {
        for align in [16, 32] {
            for _ in 0..1000 {
                let layout = Layout::from_size_align(48, align).unwrap();
                unsafe {
                    let block = MiMalloc.alloc(layout);
                    let shrunk = MiMalloc.realloc(block, layout, 4);
                    assert_eq!(shrunk as usize % align, 0, "align {align}");
                    MiMalloc.dealloc(shrunk, Layout::from_size_align(4, align).unwrap());
                }
            }
        }
    }
}
