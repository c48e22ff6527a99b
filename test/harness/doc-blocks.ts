/**
 * The code blocks of the project's Markdown: README.md, docs/**, and each package's README.
 * `test/docs.test.ts` runs every TypeScript and shell block; `test/readme.test.ts` builds fresh
 * projects from the README's.
 *
 * A block that must not run is marked by an HTML comment on the line right before its fence,
 * with the reason: `<!-- not-run: needs a PostgreSQL and Redis deployment -->`. A TypeScript
 * block so marked is still type-checked, a shell block still syntax-checked (`bash -n`). A
 * marker without a reason, or one that marks no block, is an error.
 *
 * The fence's info string may name the file a block is (`ts file=schema.ts`), so one block can
 * import another (`import { userInput } from './schema.ts'`); blocks of the same name are
 * alternatives of one file (the README's schema in Zod, Valibot and ArkType).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced code block. */
export interface DocBlock {
  /** The Markdown file, relative to the repository. */
  doc: string;
  /** The 1-based line of the opening fence. */
  line: number;
  /** The info string's language, lower-cased (`ts`, `sh`, `json`, …). */
  lang: string;
  kind: 'typescript' | 'shell' | 'other';
  /** `key=value` words of the info string after the language (`file=schema.ts`). */
  meta: Readonly<Record<string, string>>;
  code: string;
  /** Set by a `<!-- not-run: reason -->` marker. */
  notRun?: string;
}

const TYPESCRIPT = new Set(['ts', 'typescript', 'tsx', 'mts']);
const SHELL = new Set(['sh', 'bash', 'shell', 'zsh']);
const MARKER = /^\s*<!--\s*not-run\b(.*?)-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*(.*)$/;

/** The Markdown files whose blocks run: README.md, docs/**\/*.md, packages/*\/README.md. */
export function docFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) found.push(path);
    }
  };
  walk(join(root, 'docs'));
  const packages = readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name, 'README.md'))
    .filter((path) => {
      try {
        return statSync(path).isFile();
      } catch {
        return false;
      }
    });
  return [join(root, 'README.md'), ...found, ...packages].map((path) => relative(root, path));
}

/** The blocks of one Markdown text, and what is wrong with its markers. */
export function blocksOf(doc: string, text: string): { blocks: DocBlock[]; problems: string[] } {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  const problems: string[] = [];
  let pending: { line: number; reason: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = MARKER.exec(line);
    if (marker) {
      if (pending) problems.push(`${doc}:${pending.line}: a not-run marker that marks no block`);
      const reason = marker[1]!.replace(/^\s*:/, '').trim();
      if (!/^\s*:/.test(marker[1]!) || reason === '') {
        problems.push(
          `${doc}:${i + 1}: a not-run marker needs a reason: <!-- not-run: why it must not run -->`,
        );
      }
      pending = { line: i + 1, reason };
      continue;
    }
    const fence = FENCE.exec(line);
    if (!fence) {
      if (pending && line.trim() !== '') {
        problems.push(`${doc}:${pending.line}: a not-run marker must stand right before a code fence`);
        pending = undefined;
      }
      continue;
    }
    const [, indent, ticks, info] = fence as unknown as [string, string, string, string];
    const [lang = '', ...words] = info.trim().split(/\s+/);
    const meta: Record<string, string> = {};
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq > 0) meta[word.slice(0, eq)] = word.slice(eq + 1);
    }
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = lines[j]!;
      if (close.trim().startsWith(ticks[0]!.repeat(ticks.length)) && close.trim().replace(/[`~]/g, '') === '')
        break;
      body.push(close.startsWith(indent) ? close.slice(indent.length) : close);
    }
    const kind = TYPESCRIPT.has(lang.toLowerCase())
      ? 'typescript'
      : SHELL.has(lang.toLowerCase())
        ? 'shell'
        : 'other';
    const block: DocBlock = {
      doc,
      line: i + 1,
      lang: lang.toLowerCase(),
      kind,
      meta,
      code: `${body.join('\n')}\n`,
    };
    if (pending) {
      if (kind === 'other')
        problems.push(
          `${doc}:${pending.line}: a not-run marker on a ${lang || 'plain'} block, which never runs`,
        );
      block.notRun = pending.reason;
      pending = undefined;
    }
    blocks.push(block);
    i = j;
  }
  if (pending) problems.push(`${doc}:${pending.line}: a not-run marker that marks no block`);
  return { blocks, problems };
}

/** Every block of every doc file under `root`. */
export function allBlocks(root: string): { blocks: DocBlock[]; problems: string[] } {
  const blocks: DocBlock[] = [];
  const problems: string[] = [];
  for (const doc of docFiles(root)) {
    const found = blocksOf(doc, readFileSync(join(root, doc), 'utf8'));
    blocks.push(...found.blocks);
    problems.push(...found.problems);
  }
  return { blocks, problems };
}
