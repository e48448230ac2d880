"""docs/api.md: every signature it shows is the code's.

A signature is an inline code span written as a call, ``name(a, b, *, c=1)``, in prose or in
a table (the pricing table's ``signature`` column included). The name is resolved to the
real object (a dotted path, an instance name such as ``engine.`` or ``ledger.``, a leading
``.method`` of the class named just before, or a bare name looked up in the paragraph's and
the section's classes and modules, then in the whole package); its parameters are compared
with ``inspect.signature``: names, order, keyword-only (``*``) and positional-only (``/``)
markers, and defaults where the doc shows one (``x=...`` or ``x=``: some default). A ``...``
in the parameter list stands for any parameters. A span that passes values rather than
parameter names (``read_book(config, lending=path)``) is an example call: it must bind to
the signature. Spans that are not this package's callables (the protocols' own functions
quoted in a row, math, callback shapes) are listed in ``NOT_OURS`` with the reason; any
other span that does not resolve fails the test, so a renamed function cannot hide.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marginengine

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"

#: Spans that look like calls but are not signatures of this package, by their exact text.
NOT_OURS: dict[str, str] = {
    # Solidity, Rust and the protocols' entry points, quoted in the rows of their events.
    "type(uint256).max": "Solidity",
    "liquidate_perp(market_index, liquidator_max_base_asset_amount)": "Drift's instruction",
    "liquidate_perp_pnl_for_deposit(perp_market_index, asset_market_index, "
    "liquidator_max_pnl_transfer)": "Drift's instruction",
    "liquidate_spot(asset_market, liability_market, liquidator_max_liability_transfer)":
        "Drift's instruction",
    "resolve_perp_bankruptcy(market_index)": "Drift's instruction",
    "resolve_spot_bankruptcy(market_index)": "Drift's instruction",
    "borrow(assets, receiver)": "Euler's EVault function",
    "deposit(assets, receiver)": "Euler's EVault function",
    "repay(assets, receiver)": "Euler's EVault function",
    "withdraw(assets, receiver, owner)": "Euler's EVault function",
    "liquidate(violator, collateral, repayAssets, minYieldBalance)": "Euler's EVault function",
    "liquidate(borrower)": "Liquity's TroveManager function",
    "token_liq_with_token(asset_token_index, liab_token_index, max_liab_transfer)":
        "Mango's instruction",
    "perp_liq_base_or_positive_pnl(max_base_transfer, max_pnl_transfer)":
        "Mango's instruction",
    "perp_liq_negative_pnl_or_bankruptcy(max_liab_transfer)": "Mango's instruction",
    "token_liq_bankruptcy(max_liab_transfer)": "Mango's instruction",
    "token_withdraw(amount, allow_borrow)": "Mango's instruction",
    # Math in prose.
    "exp(-r t)": "math",
    "sqrt(w / T)": "math",
    "ln(K/F)": "math",
    "min(loss, total held)": "math",
    "w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))": "math",
    # Shapes of callbacks the caller writes, not functions of the package.
    "handler(ctx, event)": "the shape of a handler in HANDLERS",
    "check(engine)": "start_engine's check callback",
    "on_step(i)": "run_scenario's progress callback",
    "borrowing(category, supplied, borrowed)": "read_book's borrowing callback",
    "candidate(values)": "Problem.candidate, a field holding a callable",
    "screen(prices=, surfaces=)": "the shape of every portfolio screen's call",
    "read()": "VenueFeed's read callable",
    "SeedSequence(seed)": "numpy.random.SeedSequence",
    "functools.partial(margin.account_import.book_problems, protocol)": "the standard library",
}

#: What an instance name in the docs (``engine.copy(...)``) stands for.
INSTANCES: dict[str, str] = {
    "engine": "marginengine.engine.Engine",
    "ledger": "marginengine.ledger.Ledger",
    "config": "marginengine.config.ProtocolConfig",
    "service": "marginengine.service.Service",
}

MORE = "__more__"  # a `...` among the parameters
KW_ONLY = "__kwonly__"  # a bare `*`
POS_ONLY = "__posonly__"  # a `/`


@dataclass
class Span:
    line: int
    text: str
    paragraph: int
    section: int


@dataclass
class Target:
    """What a dotted name resolved to: a module, a class, or a callable (with its class)."""
    obj: Any
    owner: type | None = None


@dataclass
class Context:
    """The classes and modules named before a span, nearest first."""
    entries: list[Any] = field(default_factory=list)


def _blank_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                  flags=re.S | re.M)


def spans(text: str) -> list[Span]:
    """Every inline code span with its line, paragraph (a table row is one) and section."""
    text = _blank_fences(text)
    lines = text.split("\n")
    paragraph_of: list[int] = []
    section_of: list[int] = []
    paragraph = section = 0
    for line in lines:
        if line.startswith("#"):
            section += 1
        if not line.strip() or line.startswith("|") or line.startswith("#"):
            paragraph += 1
        paragraph_of.append(paragraph)
        section_of.append(section)
        if line.startswith("|") or line.startswith("#"):
            paragraph += 1
    # Rows of a table with a `signature` column: `name` and `(params)` make one span.
    extra: list[Span] = []
    columns: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith("|"):
            columns = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not columns:
            columns = cells
            continue
        if "signature" in columns and len(cells) == len(columns):
            name, sig = cells[0], cells[columns.index("signature")]
            if re.fullmatch(r"`\w+`", name) and re.fullmatch(r"`\(.*\)`", sig):
                extra.append(Span(number, name.strip("`") + sig.strip("`"),
                                  paragraph_of[number - 1], section_of[number - 1]))
    found: list[Span] = []
    position = 0
    while (start := re.compile(r"`+").search(text, position)) is not None:
        ticks = start.group(0)
        end = re.compile(rf"(?<!`){ticks}(?!`)").search(text, start.end())
        if end is None:
            position = start.end()
            continue
        line = text.count("\n", 0, start.start())
        found.append(Span(line + 1, " ".join(text[start.end():end.start()].split()),
                          paragraph_of[line], section_of[line]))
        position = end.end()
    return sorted(found + extra, key=lambda s: s.line)


def _modules() -> dict[str, types.ModuleType]:
    names = ["marginengine", *(m.name for m in pkgutil.walk_packages(
        marginengine.__path__, "marginengine."))]
    return {n: importlib.import_module(n) for n in names}


MODULES = _modules()


def _index() -> dict[str, list[Any]]:
    """Every public module-level callable of the package by name (each object once)."""
    index: dict[str, list[Any]] = {}
    for module in MODULES.values():
        for name, obj in vars(module).items():
            if name.startswith("_") or not callable(obj):
                continue
            if getattr(obj, "__module__", "").split(".")[0] != "marginengine":
                continue
            if all(o is not obj for o in index.setdefault(name, [])):
                index[name].append(obj)
    return index


INDEX = _index()


def _attribute(target: Target, name: str) -> Target | None:
    obj = target.obj
    if isinstance(obj, types.ModuleType):
        if f"{obj.__name__}.{name}" in MODULES:
            return Target(MODULES[f"{obj.__name__}.{name}"])
        return Target(getattr(obj, name)) if hasattr(obj, name) else None
    if not isinstance(obj, type):
        return None
    static = inspect.getattr_static(obj, name, None)
    if isinstance(static, property):
        hint = typing.get_type_hints(static.fget).get("return") if static.fget else None
        return Target(hint) if isinstance(hint, type) else None
    if static is not None:
        return Target(getattr(obj, name), obj)
    try:
        hint = typing.get_type_hints(obj).get(name)
    except Exception:
        hint = None
    return Target(hint) if isinstance(hint, type) else None


def _walk(target: Target | None, rest: list[str]) -> Target | None:
    for name in rest:
        if target is None:
            return None
        target = _attribute(target, name)
    return target


def _by_path(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(MODULES[module], name)


def resolve(parts: list[str], context: Context, want_callable: bool = False
            ) -> Target | None:
    """The object a dotted name in the docs stands for, or None."""
    if parts[0] == "":  # `.method`: of the class named just before
        for entry in context.entries:
            if isinstance(entry, type) and (found := _walk(Target(entry), parts[1:])):
                return found
        return None
    for k in range(len(parts), 0, -1):
        head = ".".join(parts[:k])
        candidates = [m for n, m in MODULES.items()
                      if n == head or n == f"marginengine.{head}"
                      or n.endswith(f".{head}")]
        found = _walk(Target(candidates[0]), parts[k:]) if len(candidates) == 1 else None
        if found is not None and (callable(found.obj) or not want_callable):
            return found
    if len(parts) > 1 and parts[0] in INSTANCES:
        return _walk(Target(_by_path(INSTANCES[parts[0]])), parts[1:])
    name = parts[0]
    for entry in context.entries:
        here = _attribute(Target(entry), name)
        if here is not None and callable(here.obj) and (
                isinstance(entry, types.ModuleType) or here.owner is not None):
            return _walk(here, parts[1:])
    objects = INDEX.get(name, [])
    if len(objects) == 1:
        return _walk(Target(objects[0]), parts[1:])
    return None


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)) is not None:
        return [*base, node.attr]
    return None


def _preprocess(text: str) -> str:
    text = re.sub(r"\s*->.*$", "", text)
    text = re.sub(r"=\s*(?=[,)])", "=...", text)
    text = re.sub(r"(?<=[(,])\s*\.\.\.\s*(?=[,)])", f" *{MORE}", text)
    text = re.sub(r"(?<=[(,])\s*\*\s*(?=[,)])", f" *{KW_ONLY}", text)
    return re.sub(r"(?<=[(,])\s*/\s*(?=[,)])", f" *{POS_ONLY}", text)


@dataclass
class Param:
    name: str
    kind: str  # "pos", "pos_only", "kw", "any" (after `...`: either), "*args", "**kw", "..."
    default: ast.expr | None = None


def _doc_params(call: ast.Call) -> tuple[list[Param], bool]:
    """The parameters a call span shows, and whether it is a signature (names only)."""
    items: list[ast.expr | ast.keyword] = [*call.args, *call.keywords]
    items.sort(key=lambda n: (n.lineno, n.col_offset))
    params: list[Param] = []
    signature = True
    kind = "pos"
    for item in items:
        if isinstance(item, ast.keyword):
            if item.arg is None:
                name = item.value.id if isinstance(item.value, ast.Name) else "?"
                params.append(Param(name, "**kw"))
                continue
            if not _is_literal(item.value):
                signature = False
            params.append(Param(item.arg, kind, item.value))
        elif isinstance(item, ast.Starred) and isinstance(item.value, ast.Name):
            marker = item.value.id
            if marker == MORE:
                params.append(Param("...", "..."))
                kind = "any" if kind == "pos" else kind
            elif marker == KW_ONLY:
                kind = "kw"
            elif marker == POS_ONLY:
                for p in params:
                    p.kind = "pos_only" if p.kind in ("pos", "any") else p.kind
            else:
                params.append(Param(marker, "*args"))
                kind = "kw"
        elif isinstance(item, ast.Name):
            params.append(Param(item.id, kind))
        else:
            signature = False
            params.append(Param("?", kind))
    return params, signature


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return True
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


KINDS = {inspect.Parameter.POSITIONAL_ONLY: "pos_only",
         inspect.Parameter.POSITIONAL_OR_KEYWORD: "pos",
         inspect.Parameter.VAR_POSITIONAL: "*args",
         inspect.Parameter.KEYWORD_ONLY: "kw",
         inspect.Parameter.VAR_KEYWORD: "**kw"}


#: Modules that are callable (``marginengine.optimize(...)``) and the function they call.
CALLABLE_MODULES = {"marginengine.optimize": "marginengine.optimize.api.optimize"}


def code_signature(target: Target) -> inspect.Signature:
    if isinstance(target.obj, types.ModuleType):
        return inspect.signature(_by_path(CALLABLE_MODULES[target.obj.__name__]))
    signature = inspect.signature(target.obj)
    if target.owner is not None and not isinstance(target.obj, type):
        name = target.obj.__name__
        static = inspect.getattr_static(target.owner, name, None)
        if inspect.isfunction(static):  # a plain method read off its class: drop `self`
            signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return signature


def _same(doc: Param, code: inspect.Parameter) -> bool:
    kind = KINDS[code.kind]
    if doc.name != code.name:
        return False
    if doc.kind == "any":
        if kind not in ("pos", "kw"):
            return False
    elif doc.kind != kind:
        return False
    if doc.default is None:
        return True
    if code.default is inspect.Parameter.empty:
        return False
    if isinstance(doc.default, ast.Constant) and doc.default.value is Ellipsis:
        return True
    return bool(ast.literal_eval(doc.default) == code.default)


def _matches(doc: list[Param], code: list[inspect.Parameter]) -> bool:
    if not doc:
        return not code
    if doc[0].kind == "...":
        return any(_matches(doc[1:], code[i:]) for i in range(len(code) + 1))
    return bool(code) and _same(doc[0], code[0]) and _matches(doc[1:], code[1:])


def show_doc(params: list[Param]) -> str:
    out: list[str] = []
    marker = False
    for p in params:
        if p.kind == "kw" and not marker:
            out.append("*")
            marker = True
        if p.kind == "*args":
            marker = True
        text = {"*args": f"*{p.name}", "**kw": f"**{p.name}", "...": "..."}.get(
            p.kind, p.name)
        if p.default is not None:
            text += "=" + ast.unparse(p.default)
        out.append(text)
    if any(p.kind == "pos_only" for p in params):
        last = max(i for i, p in enumerate(params) if p.kind == "pos_only")
        out.insert(last + 1 + (1 if out[:last + 1].count("*") else 0), "/")
    return "(" + ", ".join(out) + ")"


def show_code(signature: inspect.Signature) -> str:
    out: list[str] = []
    parameters = list(signature.parameters.values())
    starred = False
    for i, p in enumerate(parameters):
        if p.kind is p.KEYWORD_ONLY and not starred:
            out.append("*")
            starred = True
        if p.kind is p.VAR_POSITIONAL:
            starred = True
        text = str(p.replace(annotation=p.empty, default=p.empty))
        if p.default is not p.empty:
            value = repr(p.default)
            text += "=" + (value if len(value) <= 30 and "<" not in value else "...")
        out.append(text)
        if p.kind is p.POSITIONAL_ONLY and (
                i + 1 == len(parameters) or parameters[i + 1].kind is not p.POSITIONAL_ONLY):
            out.append("/")
    return "(" + ", ".join(out) + ")"


CALL = re.compile(r"^\.?[A-Za-z_][\w.]*\(.*\)(\s*->.*)?$|^\.?[A-Za-z_][\w.]*\(.*\)[\w.]*$")


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            yield child


def check(text: str) -> tuple[list[str], list[str], int]:
    """(mismatches, unresolved spans, signatures compared) of a document's text."""
    mismatches: list[str] = []
    unresolved: list[str] = []
    compared = 0
    paragraph_entries: dict[int, list[Any]] = {}
    section_entries: dict[int, list[Any]] = {}
    for span in spans(text):
        context = Context([*reversed(paragraph_entries.get(span.paragraph, [])),
                           *reversed(section_entries.get(span.section, []))])

        def note(obj: Any, span: Span = span) -> None:
            if isinstance(obj, (type, types.ModuleType)):
                paragraph_entries.setdefault(span.paragraph, []).append(obj)
                section_entries.setdefault(span.section, []).append(obj)

        plain = span.text.lstrip(".")
        if re.fullmatch(r"[A-Za-z_][\w.]*", plain):
            found = resolve(span.text.split("."), context)
            if found is not None:
                note(found.obj)
                note(found.owner)
            continue
        if not CALL.match(span.text) or span.text in NOT_OURS:
            continue
        leading = span.text.startswith(".")
        try:
            tree = ast.parse(_preprocess(span.text.lstrip(".")), mode="eval")
        except SyntaxError:
            unresolved.append(f"docs/api.md:{span.line} `{span.text}`: not a Python call")
            continue
        resolved: dict[int, Target | None] = {}

        # The dotted name the chain starts from; a leading `.` applies to it alone.
        outer_head = _head(tree.body)
        for call in _chain_first(list(_calls(tree))):
            target = _target_of(call.func, resolved, leading and call.func is outer_head,
                                context)
            resolved[id(call)] = target
            name = ast.unparse(call.func)
            if target is None:
                if not re.search(r"[a-z][A-Z]", name.split(".")[-1]):
                    unresolved.append(f"docs/api.md:{span.line} `{span.text}`: `{name}` "
                                      "is not a callable of the package")
                continue
            note(target.obj)
            note(target.owner)
            if not callable(target.obj):
                unresolved.append(f"docs/api.md:{span.line} `{span.text}`: `{name}` "
                                  "is not callable")
                continue
            params, is_signature = _doc_params(call)
            try:
                signature = code_signature(target)
            except (TypeError, ValueError, KeyError):
                unresolved.append(f"docs/api.md:{span.line} `{span.text}`: `{name}` "
                                  "has no signature to compare")
                continue
            compared += 1
            code = list(signature.parameters.values())
            shown = ("." if leading and call.func is outer_head else "") + name
            if is_signature:
                if not _matches(params, code):
                    mismatches.append(f"docs/api.md:{span.line} {shown}: doc has "
                                      f"{show_doc(params)} code has {show_code(signature)}")
            elif not _binds(params, signature):
                mismatches.append(f"docs/api.md:{span.line} {shown}: doc calls "
                                  f"{ast.unparse(call)} code has {show_code(signature)}")
    return mismatches, unresolved, compared


def _target_of(func: ast.expr, resolved: dict[int, Target | None], leading: bool,
               context: Context) -> Target | None:
    """What a call's function is: a dotted name, or a method of a class just called."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        inner = resolved.get(id(func.value))
        if inner is None or not isinstance(inner.obj, type):
            return None
        return _attribute(inner, func.attr)
    parts = _dotted(func)
    if parts is None:
        return None
    return resolve(["", *parts] if leading else parts, context, want_callable=True)


def _head(node: ast.expr) -> ast.expr:
    """The dotted name the chain starts from (`a.b` of `a.b(x).c(y)`)."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            node = node.value
        else:
            return node


def _chain_first(calls: list[ast.Call]) -> list[ast.Call]:
    """Calls ordered so that a call's receiver (`X(...)` of `X(...).y()`) comes first."""
    def depth(call: ast.Call) -> int:
        n, node = 0, call.func
        while isinstance(node, ast.Attribute):
            node = node.value
            if isinstance(node, ast.Call):
                n += 1
                node = node.func
        return n
    return sorted(calls, key=depth)


def _binds(params: list[Param], signature: inspect.Signature) -> bool:
    positional = [p for p in params if p.kind in ("pos", "any") and p.default is None]
    keywords = {p.name: None for p in params if p.default is not None}
    if any(p.kind == "..." for p in params):
        names = set(signature.parameters)
        var_kw = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        return var_kw or set(keywords) <= names
    try:
        signature.bind_partial(*[None] * len(positional), **keywords)
    except TypeError:
        return False
    return True


@functools.cache
def checked() -> tuple[list[str], list[str], int]:
    """The check of docs/api.md, done once for both tests."""
    return check(API.read_text())


def test_api_doc_signatures_when_compared_with_the_code_then_every_one_matches() -> None:
    mismatches, _, compared = checked()
    assert compared > 150, compared
    assert mismatches == [], "\n" + "\n".join(mismatches)


def test_api_doc_signatures_when_a_span_is_a_call_then_it_names_a_callable() -> None:
    _, unresolved, _ = checked()
    assert unresolved == [], "\n" + "\n".join(unresolved)


def test_api_doc_signatures_when_a_doc_is_wrong_then_the_checker_names_it() -> None:
    text = "\n".join([
        "## x",
        "",
        "`plan_liquidation(inputs, debt_to_cover, rules, rounding=...)` is right;",
        "`plan_liquidation(inputs, debt, rules, rounding)` is not, nor is",
        "`Absorb(absorber, account, gas_used=1, base_fee=0)`, nor",
        "`marginengine.simulate(scenario, runs=None, workers=1, explain=True, **overrides)`,",
        "nor `ledger.book_file.read_book(config, lending_file=path)`, and `no_such_rule(x)`.",
        "`LiquidatorPoints` then `.credited(absorbed, gas_used, base_fee)` is right, and",
        "`close_factor_inputs(config, ledger, prices, account_id, ...)`; `engine.copy()` not.",
    ])
    mismatches, unresolved, compared = check(text)
    assert compared == 8
    assert mismatches == [
        "docs/api.md:4 plan_liquidation: doc has (inputs, debt, rules, rounding) code has "
        "(inputs, debt_to_cover, rules, rounding=...)",
        "docs/api.md:5 Absorb: doc has (absorber, account, gas_used=1, base_fee=0) code has "
        "(absorber, account, gas_used=0, base_fee=0)",
        "docs/api.md:6 marginengine.simulate: doc has (scenario, runs=None, workers=1, "
        "explain=True, **overrides) code has (scenario, *, runs=None, workers=1, "
        "explain=True, **overrides)",
        "docs/api.md:7 ledger.book_file.read_book: doc calls "
        "ledger.book_file.read_book(config, lending_file=path) code has "
        "(protocol, lending=None, perps=None, *, borrowing=None)",
        "docs/api.md:9 engine.copy: doc has () code has (accounts=None)",
    ]
    assert unresolved == ["docs/api.md:7 `no_such_rule(x)`: `no_such_rule` is not a "
                          "callable of the package"]
