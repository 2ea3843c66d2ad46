// How the demo talks to a newcomer: a heading per step (what happens and why), the exact MCP
// request, what came back, and a check mark or a cross for each expectation. Colours only when the
// output is a terminal (and NO_COLOR is not set).

export interface NarratorOptions {
  write: (text: string) => void;
  color: boolean;
}

type Paint = (text: string) => string;

const sgr =
  (on: number, off: number, enabled: boolean): Paint =>
  (text) =>
    enabled ? `\u001b[${on}m${text}\u001b[${off}m` : text;

/** A step that did not behave as the demo expects. */
export class StepFailure extends Error {
  override name = 'StepFailure';
}

export class Narrator {
  readonly #write: (text: string) => void;
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly red: Paint;
  readonly cyan: Paint;
  readonly yellow: Paint;

  constructor(options: NarratorOptions) {
    this.#write = options.write;
    const c = options.color;
    this.bold = sgr(1, 22, c);
    this.dim = sgr(2, 22, c);
    this.green = sgr(32, 39, c);
    this.red = sgr(31, 39, c);
    this.cyan = sgr(36, 39, c);
    this.yellow = sgr(33, 39, c);
  }

  line(text = ''): void {
    this.#write(`${text}\n`);
  }

  title(text: string): void {
    this.line(this.bold(text));
    this.line(this.dim('='.repeat(text.length)));
  }

  heading(number: string, title: string, why: string): void {
    this.line();
    this.line(this.bold(this.cyan(`── ${number}. ${title}`)));
    for (const l of wrap(why, 96)) this.line(`   ${l}`);
  }

  /** Indented text (each line of `text`). */
  block(label: string, text: string): void {
    this.line(`   ${this.dim(label)}`);
    for (const l of text.split('\n')) this.line(`     ${l}`);
  }

  json(label: string, value: unknown): void {
    this.block(label, JSON.stringify(value, null, 2));
  }

  note(text: string): void {
    for (const l of wrap(text, 96)) this.line(`   ${this.yellow(l)}`);
  }

  ok(text: string): void {
    this.line(`   ${this.green('✔')} ${text}`);
  }

  fail(text: string): void {
    this.line(`   ${this.red('✘')} ${text}`);
  }

  /** Checks one expectation: prints it, and throws StepFailure when it does not hold. */
  expect(condition: unknown, what: string, detail?: string): void {
    if (condition) {
      this.ok(what);
      return;
    }
    this.fail(detail ? `${what} — ${detail}` : what);
    throw new StepFailure(detail ? `${what}: ${detail}` : what);
  }
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let current = '';
    for (const word of paragraph.split(' ')) {
      if (current && current.length + 1 + word.length > width) {
        out.push(current);
        current = word;
      } else current = current ? `${current} ${word}` : word;
    }
    out.push(current);
  }
  return out;
}

/** Runs the demo's steps: a step that fails is reported with its name, and the next one still runs. */
export class Steps {
  readonly failed: string[] = [];

  constructor(private readonly say: Narrator) {}

  /** Runs `body` as step `name`; false when it failed (printed and counted). */
  async run(name: string, body: () => Promise<void>): Promise<boolean> {
    try {
      await body();
      return true;
    } catch (err) {
      if (!(err instanceof StepFailure))
        this.say.fail(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.say.line(this.say.red(`   step "${name}" did not behave as expected`));
      this.failed.push(name);
      return false;
    }
  }

  /** The closing line and the process exit code: 0 only when every step behaved as expected. */
  finish(): number {
    this.say.line();
    if (this.failed.length === 0) {
      this.say.line(this.say.bold(this.say.green('All steps behaved as expected.')));
      return 0;
    }
    this.say.line(
      this.say.bold(
        this.say.red(`${this.failed.length} step(s) did not behave as expected: ${this.failed.join(', ')}`),
      ),
    );
    return 1;
  }
}
