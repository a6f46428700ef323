"""Text -> AST. The only module that touches lark; lark types never leave it."""

from __future__ import annotations

import math
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import GenospecError, Source, Span, SpecError, SpecSyntaxError, raise_all
from ..limits import MAX_EXPONENT, MAX_NUMBER_CHARS
from . import ast

# What each terminal means to a person reading an error.
_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a quoted string", "CHANNELS": "a channel count like 3C",
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "COLON": "':'",
    "EQUAL": "'='", "VBAR": "'|'", "ARROW": "'->'", "RANGE": "'..'", "SLASH": "'/'", "__ANON_0": "'<-'",
    "NET_KEY": "a network setting (layout, stem, cells, reduce, channels, classes, input, auxiliary, drop_path)",
    "SETTING_KEY": "a recipe setting (data, split, batch, seed, epochs, warmup, supernet, weights, arch, "
                   "update, relax, select, ...)",
    "OUTPUT_KIND": "'concat' or 'sum'", "$END": "the end of the file",
}


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    return f"'{terminal.lower()}'"


_COMMENTS: ContextVar[list | None] = ContextVar("genospec_comments", default=None)
_NUMBERS: ContextVar[list | None] = ContextVar("genospec_numbers", default=None)


def _collect_comment(tok: Token) -> Token:
    sink = _COMMENTS.get()
    if sink is not None:
        sink.append(ast.Comment(str(tok), tok.line, tok.column))
    return tok


def _check_number(tok: Token) -> Token:
    """Remember a number token that is too long or too large to mean anything (see
    number_problem); parse() reports them all once the file has parsed."""
    sink = _NUMBERS.get()
    if sink is not None and number_problem(str(tok)) is not None:
        sink.append(tok)
    return tok


def number_problem(text: str) -> str | None:
    """Why the number literal ``text`` is refused, or None.

    Longer than MAX_NUMBER_CHARS, an exponent beyond MAX_EXPONENT, or a value no 64-bit float
    holds: such a number means nothing in a spec, and turning it into an int, a float or a
    Fraction could take minutes (``1e999999999``) or fail (more than 4,300 digits)."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"a number of {len(text):,} characters is longer than the limit of {MAX_NUMBER_CHARS}"
    number = text.rstrip("C")  # a channel count: 3C
    _, _, exponent = number.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_EXPONENT:
        return f"the exponent of {text} is beyond the limit of ±{MAX_EXPONENT}"
    if not math.isfinite(float(number)):
        return f"{text} is too large for a number (the largest is about 1.8e308)"
    return None


@lru_cache(maxsize=1)
def grammar_parser() -> Lark:
    """The LALR parser, built once per process from the grammar shipped in the package.

    ``cache=True``: lark keeps the analysed tables in the temp directory keyed by the grammar's
    hash (a stale or unwritable cache is rebuilt or skipped), which takes about 0.1 s off every
    fresh process (`genospec compile`)."""
    text = resources.files("genospec.grammar").joinpath("genospec.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False,
                lexer_callbacks={"COMMENT": _collect_comment, "NUMBER": _check_number,
                                 "CHANNELS": _check_number}, cache=True)


def parse(text: str, path: str = "<input>") -> ast.File:
    """Parse ``text`` (read from ``path``) into an AST; syntax errors raise SpecSyntaxError."""
    source = Source(path, text)
    comments: list[ast.Comment] = []
    numbers: list[Token] = []
    token, number_token = _COMMENTS.set(comments), _NUMBERS.set(numbers)
    try:
        tree = grammar_parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, source) from None
    finally:
        _COMMENTS.reset(token)
        _NUMBERS.reset(number_token)
    raise_all([SpecError(number_problem(str(t)) or "", _span(source, t)) for t in numbers])
    try:
        decls = _ToAst(source).transform(tree)
    except VisitError as e:  # a callback raised: unwrap genospec's own errors
        if isinstance(e.orig_exc, GenospecError):
            raise e.orig_exc from None
        raise
    return ast.File(tuple(decls), tuple(comments), path)


def _syntax_error(e: UnexpectedInput, source: Source) -> SpecSyntaxError:
    line, col = max(getattr(e, "line", 1) or 1, 1), max(getattr(e, "column", 1) or 1, 1)
    if isinstance(e, UnexpectedToken) and e.token.type == "$END" or isinstance(e, UnexpectedEOF):
        line, col = source.position(len(source.text.rstrip()))
        found = "end of file"
    elif isinstance(e, UnexpectedToken):
        found = _shown(str(e.token))
    elif isinstance(e, UnexpectedCharacters):
        found = _shown(source.line(line)[col - 1:col])
    else:
        found = "this"
    expected = sorted({_describe(t) for t in (getattr(e, "expected", None) or getattr(e, "allowed", None) or ())})
    width = len(str(e.token)) if isinstance(e, UnexpectedToken) and e.token.type != "$END" else 1
    span = Span(source, line, col, line, col + max(width, 1))
    hint = None
    if expected:
        shown = expected if len(expected) <= 6 else expected[:6] + ["..."]
        hint = "expected " + ", ".join(shown)
    return SpecSyntaxError(f"unexpected {found}", span, hint)


def _shown(text: str) -> str:
    """A token as an error quotes it: 'text', or its escaped form when it holds a control
    character (a form feed, a NUL byte, a line separator)."""
    text = text if len(text) <= 40 else text[:40] + "..."
    return f"'{text}'" if text.isprintable() else ascii(text)


def _span(source: Source, node: Tree | Token) -> Span:
    if isinstance(node, Token):
        return Span(source, node.line or 1, node.column or 1, node.end_line or node.line or 1,
                    node.end_column or (node.column or 1) + len(node))
    m = node.meta
    if getattr(m, "empty", True):
        return Span(source, 1, 1, 1, 2)
    return Span(source, m.line, m.column, m.end_line, m.end_column)


@v_args(tree=True)
class _ToAst(Transformer):
    """Tree -> AST. Each method is named after the grammar rule it builds."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    # helpers
    def _sp(self, node: Tree | Token) -> Span:
        return _span(self.source, node)

    def _id(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), self._sp(tok))

    def _num(self, tok: Token) -> ast.Num:
        return ast.Num(str(tok), self._sp(tok))

    # file
    def start(self, t: Tree) -> list:
        return list(t.children)

    def import_decl(self, t: Tree) -> ast.Import:
        return ast.Import(str(t.children[0])[1:-1], self._sp(t))

    def extends(self, t: Tree) -> ast.Ident:
        return self._id(t.children[0])

    of_clause = extends

    def space_decl(self, t: Tree) -> ast.SpaceDecl:
        name, rest = t.children[0], t.children[1:]
        ext = rest[0] if rest and isinstance(rest[0], ast.Ident) else None
        items = tuple(rest[1:] if ext else rest)
        return ast.SpaceDecl(self._id(name), ext, items, self._sp(t))

    def genotype_decl(self, t: Tree) -> ast.GenotypeDecl:
        name, rest = t.children[0], t.children[1:]
        of = rest[0] if rest and isinstance(rest[0], ast.Ident) else None
        return ast.GenotypeDecl(self._id(name), of, tuple(rest[1:] if of else rest), self._sp(t))

    def search_decl(self, t: Tree) -> ast.SearchDecl:
        name, of, *items = t.children
        return ast.SearchDecl(self._id(name), of, tuple(items), self._sp(t))

    # ops and groups
    def ops_block(self, t: Tree) -> ast.OpsBlock:
        return ast.OpsBlock(tuple(t.children), self._sp(t))

    def op_def(self, t: Tree) -> ast.OpDefNode:
        return ast.OpDefNode(self._id(t.children[0]), t.children[1], self._sp(t))

    def call(self, t: Tree) -> ast.Call:
        kind, *args = t.children
        parens = bool(args) or self.source.text[t.meta.end_pos - 1:t.meta.end_pos] == ")"
        return ast.Call(self._id(kind), tuple(args), self._sp(t), parens)

    def call_value(self, t: Tree) -> ast.Value:
        kind, *args = t.children
        call = ast.Call(self._id(kind), tuple(args), self._sp(t), True)
        return ast.Value("call", str(kind), self._sp(t), call=call)

    def kwarg(self, t: Tree) -> ast.Arg:
        return ast.Arg(self._id(t.children[0]), t.children[1])

    def posarg(self, t: Tree) -> ast.Arg:
        return ast.Arg(None, t.children[0])

    def _value(kind: str):  # noqa: N805 - builds transformer methods
        def build(self, t: Tree) -> ast.Value:
            tok = t.children[0] if t.children else None
            text = str(tok) if tok is not None else {"comma": ",", "arrow": "->", "range_sep": ".."}[kind]
            return ast.Value("range" if kind == "range_sep" else kind, text, self._sp(t))
        return build

    number = _value("number")
    channels = _value("channels")
    word = _value("word")
    string = _value("string")
    arrow = _value("arrow")
    range_sep = _value("range_sep")
    per = _value("per")
    comma = _value("comma")

    def assign(self, t: Tree) -> ast.Value:
        key, num = t.children
        return ast.Value("assign", str(num), self._sp(t), key=str(key))

    def nval(self, t: Tree) -> ast.Value:
        return t.children[0]

    sval = nval  # a call among a setting's values: sep_conv(3) (the other values have aliases)

    def groups_block(self, t: Tree) -> ast.GroupsBlock:
        return ast.GroupsBlock(tuple(t.children), self._sp(t))

    def group_def(self, t: Tree) -> ast.GroupDef:
        name, *ops = t.children
        return ast.GroupDef(self._id(name), tuple(self._id(o) for o in ops), self._sp(t))

    # cells
    def cell_decl(self, t: Tree) -> ast.CellDecl:
        name, rest = t.children[0], t.children[1:]
        ext = rest[0] if rest and isinstance(rest[0], ast.Ident) else None
        return ast.CellDecl(self._id(name), ext, tuple(rest[1:] if ext else rest), self._sp(t))

    def _count(key: str):  # noqa: N805
        def build(self, t: Tree) -> ast.CountStmt:
            return ast.CountStmt(key, self._num(t.children[0]), self._sp(t))
        return build

    inputs_stmt = _count("inputs")
    nodes_stmt = _count("nodes")
    stride_stmt = _count("stride")

    def edge_ref(self, t: Tree) -> ast.EdgeRef:
        return ast.EdgeRef(self._num(t.children[0]), self._num(t.children[-1]), self._sp(t))

    def op_choice(self, t: Tree) -> tuple[ast.Ident, ...]:
        return tuple(self._id(o) for o in t.children)

    def edges_all(self, t: Tree) -> ast.EdgesStmt:
        return ast.EdgesStmt(None, t.children[0] if t.children else None, self._sp(t))

    def edges_list(self, t: Tree) -> ast.EdgesStmt:
        refs = tuple(c for c in t.children if isinstance(c, ast.EdgeRef))
        ops = next((c for c in t.children if isinstance(c, tuple)), None)
        return ast.EdgesStmt(refs, ops, self._sp(t))

    def edge_stmt(self, t: Tree) -> ast.EdgeStmt:
        return ast.EdgeStmt(t.children[0], t.children[1], self._sp(t))

    def topology_stmt(self, t: Tree) -> ast.TopologyStmt:
        inner = t.children[0]
        return ast.TopologyStmt(inner.kind, inner.lo, inner.hi, self._sp(t))

    def pick_k(self, t: Tree) -> ast.TopologyStmt:
        n = self._num(t.children[0])
        return ast.TopologyStmt("pick", n, n, self._sp(t))

    def pick_range(self, t: Tree) -> ast.TopologyStmt:
        return ast.TopologyStmt("range", self._num(t.children[0]), self._num(t.children[-1]), self._sp(t))

    def pick_any(self, t: Tree) -> ast.TopologyStmt:
        return ast.TopologyStmt("any", None, None, self._sp(t))

    def keep_all(self, t: Tree) -> ast.TopologyStmt:
        return ast.TopologyStmt("keep", None, None, self._sp(t))

    def output_nodes(self, t: Tree) -> ast.OutputStmt:
        kind, *nodes = t.children
        return ast.OutputStmt(str(kind), tuple(self._num(n) for n in nodes), self._sp(t))

    def output_single(self, t: Tree) -> ast.OutputStmt:
        return ast.OutputStmt("node", (self._num(t.children[0]),), self._sp(t))

    def op_input(self, t: Tree) -> ast.OpInput:
        return ast.OpInput(self._id(t.children[0]), self._num(t.children[1]), self._sp(t))

    def node_stmt(self, t: Tree) -> ast.NodeStmt:
        node, *inputs = t.children
        return ast.NodeStmt(self._num(node), tuple(inputs), self._sp(t))

    # settings
    def setting(self, t: Tree) -> ast.Setting:
        key, *values = t.children
        return ast.Setting(self._id(key), tuple(values), self._sp(t))

    net_setting = setting

    def network_block(self, t: Tree) -> ast.NetworkBlock:
        return ast.NetworkBlock(tuple(t.children), self._sp(t))

    def quick_block(self, t: Tree) -> ast.QuickBlock:
        return ast.QuickBlock(tuple(t.children), self._sp(t))

    def stage_decl(self, t: Tree) -> ast.StageDecl:
        name, *items = t.children
        return ast.StageDecl(self._id(name), tuple(items), self._sp(t))
