// The Rego lexer: turns source text into tokens, comments and lexical errors in
// one linear pass. Whitespace is not a token, but every token records whether
// whitespace (or a comment) and whether a line break came right before it:
// Rego's grammar depends on both (`a[1]` is a ref, `a [1]` is not; literals of a
// body are separated by line breaks).

export const KEYWORDS = [
  'package',
  'import',
  'as',
  'default',
  'else',
  'not',
  'some',
  'with',
  'null',
  'true',
  'false',
  'if',
  'contains',
  'in',
  'every',
] as const;
export type Keyword = (typeof KEYWORDS)[number];
const keywordSet: ReadonlySet<string> = new Set(KEYWORDS);

export type Punct =
  | '.'
  | ','
  | ';'
  | ':'
  | '('
  | ')'
  | '['
  | ']'
  | '{'
  | '}'
  | ':='
  | '='
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '|'
  | '&';

export type TokenKind = 'ident' | 'number' | 'string' | 'eof' | 'illegal' | Keyword | Punct;

export interface Token {
  kind: TokenKind;
  /** The source text of the token. */
  text: string;
  /** For strings, the decoded value; otherwise the same as `text`. */
  value: string;
  /** True for a raw (backtick) string. */
  raw: boolean;
  /** 0-based UTF-16 offset of the first character, and just past the last. */
  offset: number;
  end: number;
  /** 1-based line and column (column in Unicode code points). */
  line: number;
  col: number;
  /** Whitespace or a comment separates this token from the previous one. */
  spaceBefore: boolean;
  /** A line break separates this token from the previous one. */
  nlBefore: boolean;
}

export interface LexComment {
  /** Text after `#`, without the line break. */
  text: string;
  offset: number;
  end: number;
  line: number;
  col: number;
}

export interface LexError {
  message: string;
  offset: number;
  end: number;
  line: number;
  col: number;
}

export interface LexResult {
  tokens: Token[];
  comments: LexComment[];
  errors: LexError[];
}

const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** Two-character operators, all ending in `=`, by their first character. */
const twoCharPuncts: ReadonlyMap<number, Punct> = new Map([
  [58, ':='],
  [61, '=='],
  [33, '!='],
  [60, '<='],
  [62, '>='],
]);
const oneCharPuncts: ReadonlyMap<number, Punct> = new Map(
  (
    [
      '.',
      ',',
      ';',
      ':',
      '(',
      ')',
      '[',
      ']',
      '{',
      '}',
      '=',
      '<',
      '>',
      '+',
      '-',
      '*',
      '/',
      '%',
      '|',
      '&',
    ] as const
  ).map((p) => [p.charCodeAt(0), p] as [number, Punct]),
);

/** Lexes `src` completely. Never throws: problems are returned as errors and `illegal` tokens. */
export function lex(src: string): LexResult {
  return new Lexer(src).run();
}

class Lexer {
  private pos = 0;
  private line = 1;
  /** Column bookkeeping: `colOffset` is an offset on the current line whose column is `colValue`. */
  private colOffset = 0;
  private colValue = 1;
  private readonly tokens: Token[] = [];
  private readonly comments: LexComment[] = [];
  private readonly errors: LexError[] = [];

  constructor(private readonly src: string) {}

  run(): LexResult {
    const src = this.src;
    const n = src.length;
    let spaceBefore = false;
    let nlBefore = false;
    if (src.charCodeAt(0) === 0xfeff) {
      // A byte-order mark at the very start is ignored (and is not a column).
      this.pos = 1;
      this.colOffset = 1;
    }
    while (this.pos < n) {
      const c = src.charCodeAt(this.pos);
      if (c === CH_SPACE || c === CH_TAB || c === CH_CR) {
        this.pos++;
        spaceBefore = true;
        continue;
      }
      if (c === CH_LF) {
        this.newline(this.pos + 1);
        this.pos++;
        spaceBefore = true;
        nlBefore = true;
        continue;
      }
      if (c === 35 /* # */) {
        const start = this.pos;
        let p = start + 1;
        while (p < n && src.charCodeAt(p) !== CH_LF) p++;
        let textEnd = p;
        if (textEnd > start + 1 && src.charCodeAt(textEnd - 1) === CH_CR) textEnd--;
        this.comments.push({
          text: src.slice(start + 1, textEnd),
          offset: start,
          end: textEnd,
          line: this.line,
          col: this.colAt(start),
        });
        this.pos = p;
        spaceBefore = true;
        continue;
      }
      const tok = this.scanToken(c, spaceBefore, nlBefore);
      this.tokens.push(tok);
      spaceBefore = false;
      nlBefore = false;
    }
    this.tokens.push(this.makeToken('eof', '', this.pos, this.pos, spaceBefore, nlBefore));
    return { tokens: this.tokens, comments: this.comments, errors: this.errors };
  }

  private newline(nextLineStart: number): void {
    this.line++;
    this.colOffset = nextLineStart;
    this.colValue = 1;
  }

  /** Column of `offset`, which must be on the current line and not before the last asked offset. */
  private colAt(offset: number): number {
    const src = this.src;
    let col = this.colValue;
    let p = this.colOffset;
    while (p < offset) {
      const c = src.charCodeAt(p);
      // A surrogate pair is one code point.
      if (c >= 0xd800 && c <= 0xdbff && p + 1 < offset) {
        const d = src.charCodeAt(p + 1);
        if (d >= 0xdc00 && d <= 0xdfff) p++;
      }
      p++;
      col++;
    }
    this.colOffset = offset;
    this.colValue = col;
    return col;
  }

  /** A token whose source text is `value`. */
  private makeToken(
    kind: TokenKind,
    value: string,
    start: number,
    end: number,
    spaceBefore: boolean,
    nlBefore: boolean,
  ): Token {
    return {
      kind,
      text: value,
      value,
      raw: false,
      offset: start,
      end,
      line: this.line,
      col: this.colAt(start),
      spaceBefore,
      nlBefore,
    };
  }

  private error(message: string, offset: number, end: number, line = this.line, col?: number): void {
    this.errors.push({ message, offset, end, line, col: col ?? this.colAt(offset) });
  }

  private scanToken(c: number, spaceBefore: boolean, nlBefore: boolean): Token {
    const src = this.src;
    const start = this.pos;
    if (isLetter(c)) {
      let p = start + 1;
      while (p < src.length) {
        const d = src.charCodeAt(p);
        if (!isLetter(d) && !isDigit(d)) break;
        p++;
      }
      this.pos = p;
      const word = src.slice(start, p);
      const kind: TokenKind = keywordSet.has(word) ? (word as Keyword) : 'ident';
      return this.makeToken(kind, word, start, p, spaceBefore, nlBefore);
    }
    if (isDigit(c)) return this.scanNumber(start, spaceBefore, nlBefore);
    if (c === 34 /* " */) return this.scanString(start, spaceBefore, nlBefore);
    if (c === 96 /* ` */) return this.scanRawString(start, spaceBefore, nlBefore);
    if (start + 1 < src.length && src.charCodeAt(start + 1) === 61 /* = */) {
      const two = twoCharPuncts.get(c);
      if (two) {
        this.pos = start + 2;
        return this.makeToken(two, two, start, start + 2, spaceBefore, nlBefore);
      }
    }
    const one = oneCharPuncts.get(c);
    if (one) {
      this.pos = start + 1;
      return this.makeToken(one, one, start, start + 1, spaceBefore, nlBefore);
    }
    // Anything else is illegal; consume one code point.
    const cp = src.codePointAt(start) ?? c;
    const width = cp > 0xffff ? 2 : 1;
    this.pos = start + width;
    const tok = this.makeToken(
      'illegal',
      src.slice(start, start + width),
      start,
      start + width,
      spaceBefore,
      nlBefore,
    );
    const shown =
      cp < 32 || cp === 127
        ? `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
        : String.fromCodePoint(cp);
    this.error(
      c === 33 /* ! */ ? 'illegal ! character (did you mean !=?)' : `illegal character "${shown}"`,
      start,
      start + width,
      tok.line,
      tok.col,
    );
    return tok;
  }

  private scanNumber(start: number, spaceBefore: boolean, nlBefore: boolean): Token {
    const src = this.src;
    const n = src.length;
    let p = start;
    let bad: string | undefined;
    while (p < n && isDigit(src.charCodeAt(p))) p++;
    if (p < n && src.charCodeAt(p) === 46 /* . */) {
      // A fraction needs digits; `1.` is an error (refs never follow a number).
      p++;
      const f = p;
      while (p < n && isDigit(src.charCodeAt(p))) p++;
      if (p === f) bad = 'expected fraction digits after "."';
    }
    if (p < n && (src.charCodeAt(p) | 0x20) === 101 /* e */) {
      p++;
      if (p < n && (src.charCodeAt(p) === 43 || src.charCodeAt(p) === 45)) p++;
      const e = p;
      while (p < n && isDigit(src.charCodeAt(p))) p++;
      if (p === e) bad ??= 'expected exponent digits';
    }
    if (p < n && isLetter(src.charCodeAt(p))) {
      bad ??= 'illegal number format';
      while (p < n && (isLetter(src.charCodeAt(p)) || isDigit(src.charCodeAt(p)))) p++;
    }
    this.pos = p;
    const tok = this.makeToken(
      bad ? 'illegal' : 'number',
      src.slice(start, p),
      start,
      p,
      spaceBefore,
      nlBefore,
    );
    if (bad) this.error(`${bad}: ${src.slice(start, p)}`, start, p, tok.line, tok.col);
    return tok;
  }

  private scanString(start: number, spaceBefore: boolean, nlBefore: boolean): Token {
    const src = this.src;
    const n = src.length;
    const line = this.line;
    const col = this.colAt(start);
    let p = start + 1;
    let out: string[] | undefined;
    let chunk = p;
    let ok = true;
    for (;;) {
      if (p >= n || src.charCodeAt(p) === CH_LF) {
        this.pos = p;
        this.errors.push({ message: 'non-terminated string', offset: start, end: p, line, col });
        return this.token('illegal', src.slice(start, p), start, p, line, col, spaceBefore, nlBefore);
      }
      const c = src.charCodeAt(p);
      if (c === 34) break;
      if (c !== 92 /* \ */) {
        p++;
        continue;
      }
      out ??= [];
      out.push(src.slice(chunk, p));
      const e = p + 1 < n ? src.charCodeAt(p + 1) : -1;
      let decoded: string | undefined;
      let width = 2;
      switch (e) {
        case 34:
          decoded = '"';
          break;
        case 92:
          decoded = '\\';
          break;
        case 47:
          decoded = '/';
          break;
        case 98:
          decoded = '\b';
          break;
        case 102:
          decoded = '\f';
          break;
        case 110:
          decoded = '\n';
          break;
        case 114:
          decoded = '\r';
          break;
        case 116:
          decoded = '\t';
          break;
        case 117: {
          const u = this.hex4(p + 2);
          if (u < 0) break;
          width = 6;
          if (u >= 0xd800 && u <= 0xdbff && src.charCodeAt(p + 6) === 92 && src.charCodeAt(p + 7) === 117) {
            const low = this.hex4(p + 8);
            if (low >= 0xdc00 && low <= 0xdfff) {
              decoded = String.fromCharCode(u, low);
              width = 12;
              break;
            }
          }
          // Like JSON decoders, a lone surrogate becomes U+FFFD.
          decoded = u >= 0xd800 && u <= 0xdfff ? '\ufffd' : String.fromCharCode(u);
          break;
        }
      }
      if (decoded === undefined) {
        ok = false;
        const shown = e === -1 || e === CH_LF ? '' : src.slice(p, Math.min(p + (e === 117 ? 6 : 2), n));
        this.error(`illegal escape sequence ${JSON.stringify(shown)} in string`, p, p + 2, line);
        width = e === -1 || e === CH_LF ? 1 : 2;
        decoded = '';
      }
      out.push(decoded);
      p += width;
      chunk = p;
    }
    this.pos = p + 1;
    let value: string;
    if (out) {
      out.push(src.slice(chunk, p));
      value = out.join('');
    } else {
      value = src.slice(start + 1, p);
    }
    return this.token(ok ? 'string' : 'illegal', value, start, p + 1, line, col, spaceBefore, nlBefore);
  }

  private hex4(p: number): number {
    const src = this.src;
    if (p + 4 > src.length) return -1;
    for (let i = p; i < p + 4; i++) if (!isHex(src.charCodeAt(i))) return -1;
    return Number.parseInt(src.slice(p, p + 4), 16);
  }

  private scanRawString(start: number, spaceBefore: boolean, nlBefore: boolean): Token {
    const src = this.src;
    const line = this.line;
    const col = this.colAt(start);
    let p = start + 1;
    const n = src.length;
    while (p < n && src.charCodeAt(p) !== 96) {
      if (src.charCodeAt(p) === CH_LF) this.newline(p + 1);
      p++;
    }
    if (p >= n) {
      this.pos = p;
      this.errors.push({ message: 'non-terminated raw string', offset: start, end: p, line, col });
      return this.token('illegal', src.slice(start, p), start, p, line, col, spaceBefore, nlBefore);
    }
    this.pos = p + 1;
    const tok = this.token('string', src.slice(start + 1, p), start, p + 1, line, col, spaceBefore, nlBefore);
    tok.raw = true;
    return tok;
  }

  private token(
    kind: TokenKind,
    value: string,
    start: number,
    end: number,
    line: number,
    col: number,
    spaceBefore: boolean,
    nlBefore: boolean,
  ): Token {
    return {
      kind,
      text: this.src.slice(start, end),
      value,
      raw: false,
      offset: start,
      end,
      line,
      col,
      spaceBefore,
      nlBefore,
    };
  }
}
