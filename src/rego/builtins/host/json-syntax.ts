// Why a JSON text does not parse, worded as Go's encoding/json words it (what OPA's
// json.unmarshal and json.match_schema report), never the JavaScript engine's text.
//
//   goJSONSyntaxError('{"a" 1}')  →  "invalid character '1' after object key"
//   goJSONSyntaxError('[1,')      →  "unexpected end of JSON input"
//
// A scanner over the text: it stops at the first byte Go's scanner would refuse.

/** Go's quoting of the offending character in these messages. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  const q = JSON.stringify(c).slice(1, -1);
  return `'${q}'`;
}

class Stop {
  constructor(readonly message: string) {}
}

const WS = new Set([' ', '\t', '\n', '\r']);

/** The message for an invalid JSON text; undefined when the text is valid JSON. */
export function goJSONSyntaxError(text: string): string | undefined {
  const chars = [...text];
  let i = 0;
  const end = () => new Stop('unexpected end of JSON input');
  const bad = (context: string) => new Stop(`invalid character ${quoteChar(chars[i] as string)} ${context}`);
  const skip = () => {
    while (i < chars.length && WS.has(chars[i] as string)) i++;
  };
  const peek = (): string => {
    if (i >= chars.length) throw end();
    return chars[i] as string;
  };
  const digits = (context: string, atLeastOne: boolean) => {
    const start = i;
    while (i < chars.length && /[0-9]/.test(chars[i] as string)) i++;
    if (atLeastOne && i === start) {
      peek();
      throw bad(context);
    }
  };
  const number = () => {
    if (chars[i] === '-') {
      i++;
      if (!/[0-9]/.test(peek())) throw bad('in numeric literal');
    }
    if (chars[i] === '0') i++;
    else digits('in numeric literal', true);
    if (chars[i] === '.') {
      i++;
      digits('after decimal point in numeric literal', true);
    }
    if (chars[i] === 'e' || chars[i] === 'E') {
      i++;
      if (chars[i] === '+' || chars[i] === '-') i++;
      digits('in exponent of numeric literal', true);
    }
  };
  const literal = (word: string) => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (peek() !== word[k]) throw bad(`in literal ${word} (expecting ${quoteChar(word[k] as string)})`);
    }
    i++;
  };
  const string = () => {
    i++;
    for (;;) {
      const c = peek();
      if (c === '"') {
        i++;
        return;
      }
      if (c.charCodeAt(0) < 0x20) throw bad('in string literal');
      if (c === '\\') {
        i++;
        const e = peek();
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(peek())) throw bad('in \\u hexadecimal character escape');
          }
        } else if (!'"\\/bfnrt'.includes(e)) throw bad('in string escape code');
      }
      i++;
    }
  };
  const value = (): void => {
    skip();
    const c = peek();
    if (c === '{') {
      i++;
      skip();
      if (peek() === '}') {
        i++;
        return;
      }
      for (;;) {
        skip();
        if (peek() !== '"') throw bad('looking for beginning of object key string');
        string();
        skip();
        if (peek() !== ':') throw bad('after object key');
        i++;
        value();
        skip();
        const n = peek();
        if (n === '}') {
          i++;
          return;
        }
        if (n !== ',') throw bad('after object key:value pair');
        i++;
      }
    }
    if (c === '[') {
      i++;
      skip();
      if (peek() === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        skip();
        const n = peek();
        if (n === ']') {
          i++;
          return;
        }
        if (n !== ',') throw bad('after array element');
        i++;
      }
    }
    if (c === '"') return string();
    if (c === '-' || /[0-9]/.test(c)) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    throw bad('looking for beginning of value');
  };
  try {
    value();
    skip();
    if (i < chars.length) throw bad('after top-level value');
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return e.message;
    throw e;
  }
}
