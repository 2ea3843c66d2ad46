// The what-if editor's JSON check (console/json-check.ts): valid JSON passes exactly when JSON.parse
// accepts it, and the first error is placed at its line and column with what was expected there.
import t from 'tap';
import { findJsonProblem } from '../../console/json-check.js';

t.test('valid JSON passes', async (t) => {
  for (const text of ['{}', '[]', ' 0 ', '-1.5e+3', '"a\\u00e9\\n"', 'null', '{"a":[1,{"b":true}],"c":"x"}'])
    t.equal(findJsonProblem(text), undefined, text);
});

t.test('the first error, placed and named', async (t) => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "user": {"sub": "alice"},\n  "tool": \n}', 4, 1, /unexpected "}": expected a value/],
    ['[1,2,]', 1, 6, /expected a value/],
    ['{"a" 1}', 1, 6, /expected ":" after the member name/],
    ["{'a': 1}", 1, 2, /expected a member name in double quotes/],
    ['{"a": 1,\n "b": 2', 2, 8, /the text ends: expected "," or "}"/],
    ['"open', 1, 6, /the text ends inside a string/],
    ['1 2', 1, 3, /after the value/],
    ['{"a": tru}', 1, 7, /expected a value/],
    ['"\\x"', 1, 2, /unknown escape/],
    ['', 1, 1, /the text ends: expected a value/],
  ];
  for (const [text, line, column, message] of cases) {
    const p = findJsonProblem(text);
    t.match(p, { line, column, message }, JSON.stringify(text));
    t.throws(() => JSON.parse(text), JSON.stringify(text));
  }
});
