"""Every outermost service opens a durable transaction, and none nests another's (#14 item 7).

DESIGN.md: each use case in a `services` module is one `transaction.atomic(durable=True)`.
A durable block raises at run time when it is opened inside another transaction, so a
service called from inside another service's transaction fails in the suite; this walker
finds the rest statically, without running anything: it reads every `services` module and
package under src/quietshelf with `ast` and fails on

- a public function (no leading underscore) that opens `transaction.atomic` (a call, a
  `with` block or a decorator) without `durable=True`;
- a public function that, inside its own transaction, calls a public function of a
  services module that opens a transaction of its own (found by the names imported from
  services modules, and by the names of its own module).

A service that is used both on its own and inside another service's transaction is split
into a public durable wrapper and a private inner function the other service calls.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Apps the walker does not check yet: none (circulation and catalog were allowed while
# their services were being split into packages, #14 item 3).
ALLOWED_APPS: tuple[str, ...] = ()


@dataclass
class _Function:
    module: str
    name: str
    path: Path
    line: int
    node: ast.FunctionDef | ast.AsyncFunctionDef
    opens: bool = False  # opens a transaction at all
    imports: dict = field(default_factory=dict)
    atomic: set = field(default_factory=set)
    durable: bool | None = None  # opens a durable one, itself or by what it calls


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def service_files(root: Path = SRC) -> list[Path]:
    """Every `services.py` and every module of a `services` package under `root`."""
    found = set(root.rglob("services.py"))
    for package in root.rglob("services"):
        if package.is_dir():
            found.update(package.rglob("*.py"))
    return sorted(found)


def _is_atomic(node: ast.AST, atomic_names: set) -> bool:
    """`transaction.atomic` or a name bound to it (`from django.db.transaction import atomic`)."""
    if isinstance(node, ast.Attribute):
        return (
            node.attr == "atomic"
            and isinstance(node.value, ast.Name)
            and (node.value.id == "transaction")
        )
    return isinstance(node, ast.Name) and node.id in atomic_names


def _durable(call: ast.Call) -> bool:
    return any(
        k.arg == "durable" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


def _imports(tree: ast.Module) -> tuple[dict, set]:
    """{local name: (module, name or None)} for everything imported anywhere in the module,
    and the local names of django.db.transaction.atomic."""
    names: dict = {}
    atomic: set = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "django.db.transaction" and alias.name == "atomic":
                    atomic.add(local)
                # `from pkg import services` names a module; `from pkg.services import f`
                # names a function of one
                names[local] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
    return names, atomic


def _atomic_uses(fn: ast.AST, atomic_names: set):
    """(node, durable?) for each place `fn` opens a transaction, nested functions included.

    A block inside the function's own durable transaction is a savepoint of it (a part
    that may fail alone), not an outermost transaction: it counts as durable."""
    decorators = getattr(fn, "decorator_list", [])
    durable_fn = False
    for dec in decorators:
        if _is_atomic(dec, atomic_names):  # bare @transaction.atomic
            yield dec, False
        elif isinstance(dec, ast.Call) and _is_atomic(dec.func, atomic_names):
            durable_fn = _durable(dec)
            yield dec, durable_fn
    savepoints = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.context_expr, ast.Call)
            and _is_atomic(item.context_expr.func, atomic_names)
            and _durable(item.context_expr)
            for item in node.items
        ):
            savepoints.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    for node in ast.walk(fn):
        if node is fn or node in decorators:
            continue
        if isinstance(node, ast.Call) and _is_atomic(node.func, atomic_names):
            yield node, _durable(node) or durable_fn or id(node) in savepoints
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                if _is_atomic(dec, atomic_names):
                    yield dec, False


def _index(files: list[Path], root: Path) -> dict:
    """{(module, function name): _Function} of the public functions of the service modules;
    a package's functions are also found under the package's own name (its re-exports)."""
    index: dict = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = _module_name(path, root)
        imports, atomic = _imports(tree)
        package = module.rpartition(".")[0] if path.name != "__init__.py" else module
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            fn = _Function(
                module, node.name, path, node.lineno, node, imports=imports, atomic=atomic
            )
            fn.opens = any(True for _ in _atomic_uses(node, atomic))
            index[(module, node.name)] = fn
            if package.endswith(".services") and package != module:
                index.setdefault((package, node.name), fn)
    return index


def _callee(call: ast.Call, fn: _Function) -> tuple | None:
    """(module, name) of the function a call names, when it names one by import or module."""
    target = call.func
    if isinstance(target, ast.Name):
        if target.id in fn.imports:
            module, name = fn.imports[target.id]
            return (module, name) if name else None
        return (fn.module, target.id)
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        bound = fn.imports.get(target.value.id)
        if bound is None:
            return None
        module, name = bound
        return (f"{module}.{name}" if name else module, target.attr)
    return None


def _opens_durable(fn: _Function, index: dict) -> bool:
    """Does calling `fn` open a durable transaction: itself, or through any function of the
    service modules it calls (a private helper that calls a service counts too)?"""
    if fn.durable is None:
        fn.durable = False  # a cycle of calls adds nothing
        own = any(
            isinstance(n, ast.Call) and _is_atomic(n.func, fn.atomic) and _durable(n)
            for n in [*fn.node.decorator_list, *ast.walk(fn.node)]
        )
        fn.durable = own or any(
            callee is not fn and _opens_durable(callee, index)
            for callee in _callees(fn.node, fn, index)
        )
    return fn.durable


def _callees(node: ast.AST, fn: _Function, index: dict):
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            target = _callee(call, fn)
            if target is not None and target in index:
                yield index[target]


def _inside_transaction(fn: _Function) -> list[ast.AST]:
    """The statements `fn` runs inside a transaction it opened itself."""
    node = fn.node
    if any(
        _is_atomic(d, fn.atomic) or (isinstance(d, ast.Call) and _is_atomic(d.func, fn.atomic))
        for d in node.decorator_list
    ):
        return list(node.body)
    inside: list = []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.context_expr, ast.Call)
            and _is_atomic(item.context_expr.func, fn.atomic)
            for item in sub.items
        ):
            inside.extend(sub.body)
    return inside


def check(files: list[Path], root: Path = SRC, allowed: tuple = ()) -> list[str]:
    """What is wrong, one line each ("file:line function: problem")."""
    index = _index(files, root)
    problems = []
    for (module, name), fn in sorted(index.items(), key=lambda kv: (str(kv[1].path), kv[1].line)):
        if module != fn.module or name.startswith("_"):
            continue  # a package's alias of a submodule's function; a private helper
        if any(f".{app}." in f".{module}." for app in allowed):
            continue
        where = f"{fn.path.relative_to(root)}:{fn.line} {name}"
        for node, durable in _atomic_uses(fn.node, fn.atomic):
            if not durable:
                problems.append(
                    f"{where}: transaction.atomic at line {node.lineno} without durable=True"
                )
        for stmt in _inside_transaction(fn):
            for call in ast.walk(stmt):
                if not isinstance(call, ast.Call):
                    continue
                target = _callee(call, fn)
                if target is None or target == (module, name):
                    continue
                if any(f".{app}." in f".{target[0]}." for app in allowed):
                    continue  # checked with that app (the allow-list above)
                callee = index.get(target)
                if callee is None:
                    continue
                # a public service with a transaction of its own (durable once it is fixed),
                # or anything that reaches a durable one (it raises at run time)
                if (callee.opens and not callee.name.startswith("_")) or _opens_durable(
                    callee, index
                ):
                    problems.append(
                        f"{where}: calls {target[0]}.{target[1]} (a service with its own "
                        f"transaction) inside its transaction at line {call.lineno}"
                    )
    return problems


def test_every_outermost_service_opens_a_durable_transaction_and_nests_none_issue_14_item_7():
    files = service_files()
    assert len(files) > 15  # the walker found the services (a wrong root finds nothing)
    problems = check(files, allowed=ALLOWED_APPS)
    assert problems == [], "\n".join(problems)


BAD = """
from django.db import transaction
from django.db.transaction import atomic

from shop.other.services import order_place
from shop.other import services as other


@transaction.atomic
def bare_decorator(*, actor):
    pass


@transaction.atomic()
def called_decorator(*, actor):
    pass


def block(*, actor):
    with transaction.atomic(using="default"):
        pass


def imported_name(*, actor):
    with atomic():
        pass


@transaction.atomic(durable=True)
def nests_by_name(*, actor):
    order_place(actor=actor)


def nests_by_module(*, actor):
    with transaction.atomic(durable=True):
        other.order_place(actor=actor)


@transaction.atomic(durable=True)
def nests_in_own_module(*, actor):
    block(actor=actor)


def _private(*, actor):
    with transaction.atomic():  # a private helper runs in its caller's transaction
        pass


def _helper(*, actor):
    order_place(actor=actor)


@transaction.atomic(durable=True)
def nests_through_a_helper(*, actor):
    _helper(actor=actor)


@transaction.atomic(durable=True)
def good(*, actor):
    _private(actor=actor)
    other.order_read(actor=actor)
    with transaction.atomic():  # a savepoint of its own durable transaction
        pass


def good_block(*, actor):
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                pass
        except ValueError:
            pass


def outside(*, actor):
    other.order_place(actor=actor)  # not inside a transaction of its own
"""

OTHER = """
from django.db import transaction


@transaction.atomic(durable=True)
def order_place(*, actor):
    pass


def order_read(*, actor):
    return None
"""


def test_the_walker_fails_on_a_bad_services_module_issue_14_item_7(tmp_path):
    """The walker is not a test that cannot fail: on a synthetic services package it names
    each function, file and line that opens a non-durable transaction or nests another
    service's transaction, and nothing else."""
    for app, text in (("bad", BAD), ("other", OTHER)):
        (tmp_path / "shop" / app).mkdir(parents=True)
        (tmp_path / "shop" / app / "services.py").write_text(textwrap.dedent(text))
    files = service_files(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "shop/bad/services.py",
        "shop/other/services.py",
    ]
    problems = check(files, root=tmp_path)
    flagged = [p.split(":")[0] + ":" + p.split(":")[1].split(" ")[1] for p in problems]
    assert flagged == [
        "shop/bad/services.py:bare_decorator",
        "shop/bad/services.py:called_decorator",
        "shop/bad/services.py:block",
        "shop/bad/services.py:imported_name",
        "shop/bad/services.py:nests_by_name",
        "shop/bad/services.py:nests_by_module",
        "shop/bad/services.py:nests_in_own_module",
        "shop/bad/services.py:nests_through_a_helper",
    ]
    assert problems[0] == (
        "shop/bad/services.py:10 bare_decorator: transaction.atomic at line 9 without durable=True"
    )
    assert "calls shop.other.services.order_place" in problems[5]
    assert "calls shop.bad.services.block" in problems[6]
    # the allow-list skips an app, and only that app
    assert check(files, root=tmp_path, allowed=("bad",)) == []
