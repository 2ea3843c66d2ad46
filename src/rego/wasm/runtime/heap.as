// Airlock Wasm runtime — heap (AssemblyScript, compiled by scripts/build-runtime.mjs).
//
// A bump allocator over the imported `env.memory`. Nothing is freed one by one:
// the host rewinds the heap between evaluations with opa_heap_ptr_set, which is
// how OPA's SDKs reclaim memory. RT_HEAP_PTR is exported only so that the code
// generator can give it its initial value (after the static data it appends);
// the generator removes the export again.

@external("env", "opa_abort")
declare function opa_abort(addr: usize): void;

export let RT_HEAP_PTR: usize = 0;

// "out of memory\0", static because no heap is left to build the message in.
const OOM_MSG = memory.data<u8>([111, 117, 116, 32, 111, 102, 32, 109, 101, 109, 111, 114, 121, 0]);

/** Allocates `size` bytes aligned to 8; grows the memory or aborts with "out of memory". */
export function alloc(size: usize): usize {
  const p = (RT_HEAP_PTR + 7) & ~(<usize>7);
  const end = p + size;
  if (end < p) fatal("out of memory");
  bumpTo(end);
  return p;
}

/** Moves the heap top to `end`, growing the memory when needed. */
function bumpTo(end: usize): void {
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) {
      opa_abort(OOM_MSG);
      unreachable();
    }
  }
  RT_HEAP_PTR = end;
}

/** Allocates zero-filled memory. */
export function allocZero(size: usize): usize {
  const p = alloc(size);
  memory.fill(p, 0, size);
  return p;
}

/** Copies an ASCII AssemblyScript string literal to a NUL-terminated C string on the heap. */
export function cstr(msg: string): usize {
  const n = msg.length;
  const p = alloc(<usize>n + 1);
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>msg.charCodeAt(i));
  store<u8>(p + <usize>n, 0);
  return p;
}

/** Reports a fatal error to the host (which throws) and never returns. */
export function fatal(msg: string): void {
  opa_abort(cstr(msg));
  unreachable();
}

/** Reports a fatal error whose message was built in a Buf. */
export function fatalBuf(b: Buf): void {
  b.byte(0);
  opa_abort(b.ptr);
  unreachable();
}

/** A growable byte buffer on the heap (used by the JSON dumper and error messages). */
@unmanaged
export class Buf {
  ptr: usize;
  len: u32;
  cap: u32;

  static create(cap: u32): Buf {
    const b = changetype<Buf>(alloc(offsetof<Buf>()));
    b.ptr = alloc(<usize>cap);
    b.len = 0;
    b.cap = cap;
    return b;
  }

  reserve(n: u32): void {
    const need = this.len + n;
    if (need <= this.cap) return;
    let cap = this.cap * 2;
    if (cap < need) cap = need;
    // If the buffer is the last allocation, extend it in place.
    if (this.ptr + <usize>this.cap == RT_HEAP_PTR) {
      bumpTo(RT_HEAP_PTR + <usize>(cap - this.cap));
    } else {
      const p = alloc(<usize>cap);
      memory.copy(p, this.ptr, <usize>this.len);
      this.ptr = p;
    }
    this.cap = cap;
  }

  byte(c: u32): void {
    if (this.len == this.cap) this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, <u8>c);
    this.len++;
  }

  bytes(src: usize, n: u32): void {
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  ascii(s: string): void {
    const n = s.length;
    this.reserve(<u32>n);
    for (let i = 0; i < n; i++) store<u8>(this.ptr + <usize>this.len + <usize>i, <u8>s.charCodeAt(i));
    this.len += <u32>n;
  }

  /** Appends the decimal text of a signed 64-bit integer. */
  int(v: i64): void {
    if (v == 0) {
      this.byte(0x30);
      return;
    }
    const tmp = alloc(24);
    let i = 24;
    let neg = v < 0;
    // work with negative numbers so that i64.MIN_VALUE needs no special case
    let x = neg ? v : -v;
    while (x != 0) {
      const d = <u32>(-(x % 10));
      i--;
      store<u8>(tmp + <usize>i, <u8>(0x30 + d));
      x = x / 10;
    }
    if (neg) this.byte(0x2d);
    this.bytes(tmp + <usize>i, <u32>(24 - i));
  }
}
