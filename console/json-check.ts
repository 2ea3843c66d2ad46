// Where a JSON text first goes wrong, as line and column: browsers' JSON.parse messages differ (and
// Chromium's name no position), so the what-if editor finds the place itself. Validation only; the
// text is parsed by JSON.parse once it passes.

export interface JsonProblem {
  line: number;
  column: number;
  message: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);

/** The first syntax error of `text` as RFC 8259 JSON, or undefined when it is valid. */
export function findJsonProblem(text: string): JsonProblem | undefined {
  let i = 0;
  const fail = (message: string): never => {
    throw Object.assign(new Error(message), { at: i });
  };
  const ws = () => {
    while (i < text.length && WS.has(text[i]!)) i++;
  };
  const describe = () => (i >= text.length ? 'the text ends' : `unexpected ${JSON.stringify(text[i])}`);
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`${describe()}: expected a value`);
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('the text ends inside a string');
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') fail('a control character inside a string (escape it)');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('a \\u escape needs four hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('an unknown escape in a string');
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail(`${describe()}: expected a value`);
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`${describe()}: expected a member name in double quotes`);
        string();
        ws();
        if (text[i] !== ':') fail(`${describe()}: expected ":" after the member name`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`${describe()}: expected "," or "}"`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`${describe()}: expected "," or "]"`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    number();
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail(`${describe()} after the value`);
    return undefined;
  } catch (err) {
    const at = (err as { at?: number }).at ?? i;
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return { line, column: at - before.lastIndexOf('\n'), message: (err as Error).message };
  }
}
