import t from 'tap';
import { goJSONSyntaxError } from '../../../../src/rego/builtins/host/json-syntax.js';
import { host } from './helpers.js';

t.test("syntax errors worded as Go's encoding/json", async (t) => {
  const cases: [string, string | undefined][] = [
    ['{"a": [1, "x", null, true, false, -0.5e3]}', undefined],
    ['', 'unexpected end of JSON input'],
    ['[1, 2', 'unexpected end of JSON input'],
    ['nul', 'unexpected end of JSON input'],
    ['?', "invalid character '?' looking for beginning of value"],
    ['{3: 4}', "invalid character '3' looking for beginning of object key string"],
    ['{"k" 4}', "invalid character '4' after object key"],
    ['{"k": 4 "j": 5}', `invalid character '"' after object key:value pair`],
    ['[4 5]', "invalid character '5' after array element"],
    ['{} {}', "invalid character '{' after top-level value"],
    ['007', "invalid character '0' after top-level value"],
    ['-x', "invalid character 'x' in numeric literal"],
    ['1.x', "invalid character 'x' after decimal point in numeric literal"],
    ['1ex', "invalid character 'x' in exponent of numeric literal"],
    ['nuLL', "invalid character 'L' in literal null (expecting 'l')"],
    ['"tab\there"', "invalid character '\\t' in string literal"],
    ['"\\q"', "invalid character 'q' in string escape code"],
    ['"\\u00zz"', "invalid character 'z' in \\u hexadecimal character escape"],
    ["'single'", "invalid character '\\'' looking for beginning of value"],
  ];
  for (const [text, want] of cases) t.equal(goJSONSyntaxError(text), want, JSON.stringify(text));
});

t.test('json.unmarshal and json.match_schema say so, not the JavaScript engine', async (t) => {
  const h = host();
  t.throws(() => h.call('json.unmarshal', '{"a": }'), {
    message: "eval_builtin_error: json.unmarshal: invalid character '}' looking for beginning of value",
  });
  t.throws(() => h.call('json.match_schema', '{', '{}'), {
    message: 'eval_builtin_error: json.match_schema: unexpected end of JSON input',
  });
  t.throws(() => h.call('json.match_schema', '{}', '[1 2]'), {
    message: "eval_builtin_error: json.match_schema: invalid character '2' after array element",
  });
});
