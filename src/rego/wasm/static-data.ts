// Static data the code generator appends after the runtime's own data:
// string values (laid out exactly as the runtime's StrV), arrays of them
// (ArrV, for `with` paths) and NUL-terminated texts (error messages, the
// entrypoints/builtins tables). Deterministic: same calls, same bytes.

const T_STRING = 4;
const T_ARRAY = 5;

export class StaticData {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private readonly strings = new Map<string, number>();
  private readonly texts = new Map<string, number>();
  private readonly arrays = new Map<string, number>();

  constructor(readonly base: number) {
    if (base % 8 !== 0) throw new Error('static data base must be 8-aligned');
  }

  /** Address just past the data. */
  get end(): number {
    return this.base + this.size;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private put(data: Uint8Array): number {
    const pad = (8 - (this.size % 8)) % 8;
    if (pad > 0) {
      this.chunks.push(new Uint8Array(pad));
      this.size += pad;
    }
    const addr = this.base + this.size;
    this.chunks.push(data);
    this.size += data.length;
    return addr;
  }

  /** Address of a string value (runtime layout { u8 type; u32 len @4; u32 ptr @8 }). */
  string(s: string): number {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    const text = new TextEncoder().encode(s);
    const head = new Uint8Array(16 + text.length);
    const view = new DataView(head.buffer);
    const addr = this.base + this.size + ((8 - (this.size % 8)) % 8);
    view.setUint8(0, T_STRING);
    view.setUint32(4, text.length, true);
    view.setUint32(8, addr + 16, true);
    head.set(text, 16);
    const at = this.put(head);
    if (at !== addr) throw new Error('static data layout mismatch');
    this.strings.set(s, at);
    return at;
  }

  /** Address of an array value of string values (runtime layout { u8 type; u32 len; u32 cap; u32 elems }). */
  stringArray(items: readonly string[]): number {
    const key = JSON.stringify(items);
    const known = this.arrays.get(key);
    if (known !== undefined) return known;
    const elems = items.map((s) => this.string(s));
    const head = new Uint8Array(16 + 4 * elems.length);
    const view = new DataView(head.buffer);
    const addr = this.base + this.size + ((8 - (this.size % 8)) % 8);
    view.setUint8(0, T_ARRAY);
    view.setUint32(4, elems.length, true);
    view.setUint32(8, elems.length, true);
    view.setUint32(12, elems.length > 0 ? addr + 16 : 0, true);
    elems.forEach((e, i) => {
      view.setUint32(16 + 4 * i, e, true);
    });
    const at = this.put(head);
    if (at !== addr) throw new Error('static data layout mismatch');
    this.arrays.set(key, at);
    return at;
  }

  /** Address and byte length of UTF-8 text followed by a NUL byte. */
  text(s: string): { addr: number; len: number } {
    const bytes = new TextEncoder().encode(s);
    const known = this.texts.get(s);
    if (known !== undefined) return { addr: known, len: bytes.length };
    const buf = new Uint8Array(bytes.length + 1);
    buf.set(bytes);
    const addr = this.put(buf);
    this.texts.set(s, addr);
    return { addr, len: bytes.length };
  }
}
