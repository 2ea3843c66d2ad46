/** Writes index.html, console.js and console.css into `outDir` (default dist/console-ui); resolves to it. */
export function buildConsole(outDir?: string): Promise<string>;
