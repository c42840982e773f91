// The part of Common Expression Language that workload identity providers use in their attribute
// mappings and conditions (Google's documented GitHub and GitLab examples, and what keyless
// writes): `assertion.x`, `attribute.x`, `google.subject`, `x['k']`, string/number/bool/null and
// list literals, `==` `!=` `<` `<=` `>` `>=`, `&&` `||` `!`, `in`, `+`, `c ? a : b`, parentheses,
// `.startsWith()` `.endsWith()` `.contains()` and `has()`. Anything else is refused when the
// provider is written, never silently ignored at exchange time.

/** An expression the emulator cannot parse or does not evaluate. */
export class CelSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelSyntaxError';
  }
}

/** An evaluation error (CEL's `no such key`, `no matching overload` …). */
export class CelEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelEvalError';
  }
}

export type CelNode =
  | { k: 'lit'; v: CelValue }
  | { k: 'ident'; name: string }
  | { k: 'select'; target: CelNode; field: string }
  | { k: 'index'; target: CelNode; index: CelNode }
  | { k: 'call'; target: CelNode | undefined; fn: string; args: CelNode[] }
  | { k: 'list'; items: CelNode[] }
  | { k: 'unary'; op: '!' | '-'; x: CelNode }
  | { k: 'binary'; op: BinaryOp; l: CelNode; r: CelNode }
  | { k: 'cond'; c: CelNode; t: CelNode; f: CelNode };

type BinaryOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | '+' | '&&' | '||';

export type CelValue = string | number | boolean | null | CelValue[] | { [key: string]: CelValue };

const METHODS = new Set(['startsWith', 'endsWith', 'contains']);
const GLOBALS = new Set(['has']);
const MAX_DEPTH = 64;

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'op'; v: string };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      if (src.startsWith(c.repeat(3), i)) throw new CelSyntaxError('triple-quoted strings are not supported');
      let out = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new CelSyntaxError('unterminated string literal');
        const ch = src[i]!;
        if (ch === c) break;
        if (ch === '\n') throw new CelSyntaxError('newline in string literal');
        if (ch === '\\') {
          const next = src[i + 1];
          const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '`': '`', '?': '?' };
          if (next === undefined || !(next in escapes)) throw new CelSyntaxError(`unsupported escape \\${next ?? ''}`);
          out += escapes[next];
          i += 2;
          continue;
        }
        out += ch;
        i++;
      }
      i++;
      tokens.push({ t: 'str', v: out });
      continue;
    }
    const num = /^(\d+\.\d+|\d+)(u)?/.exec(src.slice(i));
    if (num) {
      if (num[2]) throw new CelSyntaxError('unsigned integer literals are not supported');
      tokens.push({ t: 'num', v: Number(num[1]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      tokens.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = ['==', '!=', '<=', '>=', '&&', '||'].find((o) => src.startsWith(o, i)) ?? ('!<>+-?:.,()[]'.includes(c) ? c : undefined);
    if (!op) throw new CelSyntaxError(`unexpected character '${c}'`);
    tokens.push({ t: 'op', v: op });
    i += op.length;
  }
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): CelNode {
    if (this.tokens.length === 0) throw new CelSyntaxError('empty expression');
    const node = this.expr();
    if (this.pos < this.tokens.length) throw new CelSyntaxError(`unexpected '${describe(this.tokens[this.pos]!)}'`);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return t?.t === 'op' && t.v === v;
  }

  private eat(v: string): void {
    if (!this.isOp(v)) {
      const t = this.peek();
      throw new CelSyntaxError(t ? `expected '${v}' but found '${describe(t)}'` : `expected '${v}' at end of expression`);
    }
    this.pos++;
  }

  private nested<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new CelSyntaxError('expression nested too deeply');
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private expr(): CelNode {
    return this.nested(() => {
      const c = this.or();
      if (!this.isOp('?')) return c;
      this.pos++;
      const t = this.or();
      this.eat(':');
      const f = this.expr();
      return { k: 'cond', c, t, f };
    });
  }

  private or(): CelNode {
    let l = this.and();
    while (this.isOp('||')) {
      this.pos++;
      l = { k: 'binary', op: '||', l, r: this.and() };
    }
    return l;
  }

  private and(): CelNode {
    let l = this.relation();
    while (this.isOp('&&')) {
      this.pos++;
      l = { k: 'binary', op: '&&', l, r: this.relation() };
    }
    return l;
  }

  private relation(): CelNode {
    let l = this.addition();
    for (;;) {
      const t = this.peek();
      const op = t?.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v) ? (t.v as BinaryOp) : t?.t === 'id' && t.v === 'in' ? 'in' : undefined;
      if (!op) return l;
      this.pos++;
      l = { k: 'binary', op, l, r: this.addition() };
    }
  }

  private addition(): CelNode {
    let l = this.unary();
    for (;;) {
      if (this.isOp('-')) throw new CelSyntaxError("the '-' operator is not supported");
      if (!this.isOp('+')) return l;
      this.pos++;
      l = { k: 'binary', op: '+', l, r: this.unary() };
    }
  }

  private unary(): CelNode {
    if (this.isOp('!') || this.isOp('-')) {
      const op = this.peek()!.v as '!' | '-';
      this.pos++;
      return this.nested(() => ({ k: 'unary', op, x: this.unary() }));
    }
    return this.member();
  }

  private member(): CelNode {
    let node = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const name = this.peek();
        if (name?.t !== 'id') throw new CelSyntaxError("expected a field or method name after '.'");
        this.pos++;
        if (this.isOp('(')) {
          if (!METHODS.has(name.v)) throw new CelSyntaxError(`unsupported function '${name.v}'`);
          node = { k: 'call', target: node, fn: name.v, args: this.args(')') };
        } else {
          node = { k: 'select', target: node, field: name.v };
        }
      } else if (this.isOp('[')) {
        this.pos++;
        const index = this.expr();
        this.eat(']');
        node = { k: 'index', target: node, index };
      } else {
        return node;
      }
    }
  }

  private args(close: string): CelNode[] {
    this.eat(close === ')' ? '(' : '[');
    const items: CelNode[] = [];
    if (!this.isOp(close)) {
      for (;;) {
        items.push(this.expr());
        if (!this.isOp(',')) break;
        this.pos++;
        if (this.isOp(close)) break;
      }
    }
    this.eat(close);
    return items;
  }

  private primary(): CelNode {
    const t = this.peek();
    if (!t) throw new CelSyntaxError('unexpected end of expression');
    if (t.t === 'str' || t.t === 'num') {
      this.pos++;
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'id') {
      this.pos++;
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (t.v === 'in') throw new CelSyntaxError("unexpected 'in'");
      if (this.isOp('(')) {
        if (!GLOBALS.has(t.v)) throw new CelSyntaxError(`unsupported function '${t.v}'`);
        const args = this.args(')');
        if (args.length !== 1 || args[0]!.k !== 'select') throw new CelSyntaxError('has() takes one field selection, e.g. has(assertion.environment)');
        return { k: 'call', target: undefined, fn: t.v, args };
      }
      return { k: 'ident', name: t.v };
    }
    if (t.v === '(') {
      this.pos++;
      const node = this.expr();
      this.eat(')');
      return node;
    }
    if (t.v === '[') return { k: 'list', items: this.args(']') };
    throw new CelSyntaxError(`unexpected '${t.v}'`);
  }
}

function describe(t: Token): string {
  return t.t === 'str' ? JSON.stringify(t.v) : String(t.v);
}

/** Parses an expression; throws CelSyntaxError for anything outside the supported subset. */
export function parseCel(source: string): CelNode {
  return new Parser(tokenize(source)).parse();
}

/** Parses and checks that the expression names only the given variables (e.g. `assertion`). */
export function compileCel(source: string, variables: readonly string[]): CelNode {
  const ast = parseCel(source);
  const visit = (node: CelNode): void => {
    switch (node.k) {
      case 'ident':
        if (!variables.includes(node.name)) throw new CelSyntaxError(`undeclared reference to '${node.name}'`);
        return;
      case 'lit':
        return;
      case 'select':
        return visit(node.target);
      case 'index':
        visit(node.target);
        return visit(node.index);
      case 'call':
        if (node.target) visit(node.target);
        if (node.fn !== 'has' && node.args.length !== 1) throw new CelSyntaxError(`${node.fn}() takes one argument`);
        return node.args.forEach(visit);
      case 'list':
        return node.items.forEach(visit);
      case 'unary':
        return visit(node.x);
      case 'binary':
        visit(node.l);
        return visit(node.r);
      case 'cond':
        visit(node.c);
        visit(node.t);
        return visit(node.f);
    }
  };
  visit(ast);
  return ast;
}

function typeName(v: CelValue): string {
  if (v === null) return 'null_type';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

function isMap(v: CelValue): v is { [key: string]: CelValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: CelValue, b: CelValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equal(a[k]!, b[k]!));
  }
  return a === b;
}

function noOverload(op: string, ...values: CelValue[]): CelEvalError {
  return new CelEvalError(`no matching overload for '${op}' applied to (${values.map(typeName).join(', ')})`);
}

function field(target: CelValue, key: string): CelValue {
  if (!isMap(target)) throw new CelEvalError(`type '${typeName(target)}' does not support field selection`);
  if (!Object.prototype.hasOwnProperty.call(target, key)) throw new CelEvalError(`no such key: ${key}`);
  return target[key]!;
}

type Outcome = { ok: true; v: CelValue } | { ok: false; err: CelEvalError };

function attempt(node: CelNode, env: Record<string, CelValue>): Outcome {
  try {
    return { ok: true, v: evaluate(node, env) };
  } catch (err) {
    if (err instanceof CelEvalError) return { ok: false, err };
    throw err;
  }
}

function evaluate(node: CelNode, env: Record<string, CelValue>): CelValue {
  switch (node.k) {
    case 'lit':
      return node.v;
    case 'ident':
      if (!(node.name in env)) throw new CelEvalError(`undeclared reference to '${node.name}'`);
      return env[node.name]!;
    case 'select':
      return field(evaluate(node.target, env), node.field);
    case 'index': {
      const target = evaluate(node.target, env);
      const index = evaluate(node.index, env);
      if (isMap(target) && typeof index === 'string') return field(target, index);
      if (Array.isArray(target) && typeof index === 'number' && Number.isInteger(index)) {
        if (index < 0 || index >= target.length) throw new CelEvalError(`index out of range: ${index}`);
        return target[index]!;
      }
      throw noOverload('_[_]', target, index);
    }
    case 'call': {
      if (node.fn === 'has') {
        const sel = node.args[0] as Extract<CelNode, { k: 'select' }>;
        const target = evaluate(sel.target, env);
        if (!isMap(target)) throw new CelEvalError(`type '${typeName(target)}' does not support field selection`);
        return Object.prototype.hasOwnProperty.call(target, sel.field);
      }
      const target = evaluate(node.target!, env);
      const arg = evaluate(node.args[0]!, env);
      if (typeof target !== 'string' || typeof arg !== 'string') throw noOverload(node.fn, target, arg);
      if (node.fn === 'startsWith') return target.startsWith(arg);
      if (node.fn === 'endsWith') return target.endsWith(arg);
      return target.includes(arg);
    }
    case 'list':
      return node.items.map((item) => evaluate(item, env));
    case 'unary': {
      const x = evaluate(node.x, env);
      if (node.op === '!') {
        if (typeof x !== 'boolean') throw noOverload('!_', x);
        return !x;
      }
      if (typeof x !== 'number') throw noOverload('-_', x);
      return -x;
    }
    case 'cond': {
      const c = evaluate(node.c, env);
      if (typeof c !== 'boolean') throw noOverload('_?_:_', c);
      return evaluate(c ? node.t : node.f, env);
    }
    case 'binary':
      return binary(node.op, node.l, node.r, env);
  }
}

function binary(op: BinaryOp, lNode: CelNode, rNode: CelNode, env: Record<string, CelValue>): CelValue {
  if (op === '&&' || op === '||') {
    // CEL's logical operators are commutative over errors: `error || true` is true.
    const decisive = op === '||';
    const l = attempt(lNode, env);
    if (l.ok && l.v === decisive) return decisive;
    const r = attempt(rNode, env);
    if (r.ok && r.v === decisive) return decisive;
    if (!l.ok) throw l.err;
    if (!r.ok) throw r.err;
    if (typeof l.v !== 'boolean' || typeof r.v !== 'boolean') throw noOverload(`_${op}_`, l.v, r.v);
    return !decisive;
  }
  const l = evaluate(lNode, env);
  const r = evaluate(rNode, env);
  switch (op) {
    case '==':
      return equal(l, r);
    case '!=':
      return !equal(l, r);
    case 'in':
      if (Array.isArray(r)) return r.some((item) => equal(l, item));
      if (isMap(r) && typeof l === 'string') return Object.prototype.hasOwnProperty.call(r, l);
      throw noOverload('@in', l, r);
    case '+':
      if (typeof l === 'string' && typeof r === 'string') return l + r;
      if (typeof l === 'number' && typeof r === 'number') return l + r;
      if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
      throw noOverload('_+_', l, r);
    default: {
      const same = (typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string');
      if (!same) throw noOverload(`_${op}_`, l, r);
      const a = l as number | string;
      const b = r as number | string;
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
  }
}

/** Evaluates a compiled expression; throws CelEvalError as CEL would. */
export function evaluateCel(ast: CelNode, env: Record<string, CelValue>): CelValue {
  return evaluate(ast, env);
}
