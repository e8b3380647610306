"""YAML loading that remembers where each key and item was written.

pydantic reports error locations as paths (`environments.staging.repair`);
the marks recorded here turn them into `file:line:col` for the user.
"""

from __future__ import annotations

from typing import Any

import yaml

from tui.core.errors import ConfigError

Path_ = tuple[Any, ...]


class Marks(dict[Path_, tuple[int, int]]):
    """Where each key and item was written, by path; `aliases` maps the path where an alias
    (`edge: *edge`, or a `<<:` merge) uses a node to the path where that node was written, so
    what lies under an alias is placed at its anchor."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.aliases: dict[Path_, Path_] = {}


_MERGE = "tag:yaml.org,2002:merge"


def _key_id(node: yaml.Node) -> tuple[str, str] | None:
    return (node.tag, node.value) if isinstance(node, yaml.ScalarNode) else None


class _Loader(yaml.SafeLoader):
    """SafeLoader whose `<<:` merges follow the merge spec on every PyYAML: the keys written in
    the mapping win, then the EARLIEST base of a `<<: [*a, *b]` naming a key (PyYAML 6.0.4 made
    the last one win for keys longer than one character: yaml/pyyaml#953). Each mapping is
    flattened once and its merged keys are unique, so nested merges of the same anchors cannot
    grow (the merge-key blow-up 6.0.4 fixed, yaml/pyyaml#897)."""

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        done: set[int] = self.__dict__.setdefault("_flattened", set())
        if id(node) in done:
            return
        done.add(id(node))
        bases: list[yaml.MappingNode] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                if key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
                continue
            subnodes = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for sub in subnodes:
                if not isinstance(sub, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {sub.id}", sub.start_mark)
                bases.append(sub)
        if not bases:
            node.value = own
            return
        seen = {_key_id(k) for k, _ in own} - {None}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for base in bases:
            self.flatten_mapping(base)
            for key_node, value_node in base.value:
                key = _key_id(key_node)
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                merged.append((key_node, value_node))
        node.value = merged + own


def compose_with_marks(text: str, source: str, loader_class: type | None = None) -> tuple[Any, Marks]:
    """`loader_class`: `_Loader` unless given (tui/core/config_read.py may give its libyaml twin)."""
    try:
        loader = (loader_class or _Loader)(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_problem(text, exc, source)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        written = _as_written(node)  # constructing flattens `<<:` merges into the mappings
        data = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_problem(text, exc, source)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([f"{source}:{line}:{col}: YAML syntax: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1:1: YAML: {exc}"]) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. timestamps out of range
        raise ConfigError([f"{source}:1:1: YAML: cannot read a value: {exc}"]) from None
    finally:
        loader.dispose()
    marks = Marks({(): (node.start_mark.line + 1, node.start_mark.column + 1)})
    problems: list[str] = []
    _walk(loader, node, (), marks, problems, source, {}, written)
    if problems:
        raise ConfigError(problems)
    return data, marks


def _reader_problem(text: str, exc: yaml.reader.ReaderError, source: str) -> str:
    before = text[: exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    return f"{source}:{line}:{col}: character {ord(exc.character) if isinstance(exc.character, str) else exc.character:#06x} is not allowed in YAML"


def _scalar_key(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        try:
            return loader.construct_object(node, deep=True)
        except Exception:  # noqa: BLE001 - a key we cannot build is reported by validation
            return node.value
    return None


def _as_written(root: yaml.Node) -> dict[int, list[tuple[yaml.Node, yaml.Node]]]:
    """Each mapping's pairs as written (a `<<:` key still there), by node id."""
    pairs: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            pairs[id(node)] = list(node.value)
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return pairs


def _walk(loader, node, path: Path_, marks: Marks, problems: list[str], source: str, seen: dict[int, Path_],
          written: dict[int, list[tuple[yaml.Node, yaml.Node]]]) -> None:
    if id(node) in seen:  # an alias: its contents are placed where the anchored node was written
        marks.aliases.setdefault(path, seen[id(node)])
        return
    if len(path) > 64:
        return
    seen[id(node)] = path
    if isinstance(node, yaml.MappingNode):
        keys: set[Any] = set()
        merged: list[yaml.Node] = []
        for key_node, value_node in written.get(id(node), node.value):
            if key_node.tag == _MERGE:  # `<<: *base`: its keys are placed at the base, after this loop
                merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
                continue
            key = _scalar_key(loader, key_node)
            try:
                hash(key)
            except TypeError:
                continue
            mark = key_node.start_mark
            here = (mark.line + 1, mark.column + 1)
            if key in keys:
                problems.append(f"{source}:{here[0]}:{here[1]}: duplicate key {key!r}")
            keys.add(key)
            marks[path + (key,)] = here
            _walk(loader, value_node, path + (key,), marks, problems, source, seen, written)
        for base in merged:  # the keys written here win, then the first base naming a key
            if not isinstance(base, yaml.MappingNode):
                continue
            _walk(loader, base, path + ("<<",), marks, problems, source, seen, written)  # an inline base
            for key_node, _ in written.get(id(base), base.value):
                key = _scalar_key(loader, key_node)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key_node.tag != _MERGE and key not in keys and id(base) in seen:
                    keys.add(key)
                    marks.aliases.setdefault(path + (key,), seen[id(base)] + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            mark = item.start_mark
            marks[path + (index,)] = (mark.line + 1, mark.column + 1)
            _walk(loader, item, path + (index,), marks, problems, source, seen, written)


def locate(data: Any, marks: Marks, loc: tuple[Any, ...]) -> tuple[int, int, list[Any]]:
    """Map a pydantic error location onto the data, skipping union tags and
    validator names that pydantic inserts, and return (line, col, real path)."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and _is_pydantic_tag(part):
            continue
        else:
            # A missing key: report it at its parent mapping, but name it.
            if isinstance(node, dict) and not _is_pydantic_tag(str(part)):
                line, col = mark_of(marks, tuple(path))
                return line, col, path + [part]
            continue
    line, col = mark_of(marks, tuple(path))
    return line, col, path


def mark_of(marks: Marks | dict, path: Path_) -> tuple[int, int]:
    """Where `path` was written: through aliases to their anchors; else where the nearest
    enclosing key or item was written (1:1 only for a document without marks)."""
    aliases = getattr(marks, "aliases", {})
    for _ in range(64):  # alias hops (an alias inside an anchored node, ...)
        if path in marks:
            return marks[path]
        for cut in range(len(path), 0, -1):
            anchor = aliases.get(path[:cut])
            if anchor is not None:
                path = anchor + path[cut:]
                break
        else:
            break
    while path and path not in marks:
        path = path[:-1]
    return marks.get(path, (1, 1))


def _is_pydantic_tag(part: str) -> bool:
    # Discriminator values (`ec2-instance`), union member names (`str`, `dict[str,str]`),
    # and validator markers (`function-after[...]`) that pydantic inserts into locations.
    return part in {"ec2-instance", "ecs-service", "s3-bucket", "security-group", "autoscaling-group",
                    "lambda-function", "Deployment", "StatefulSet"} or any(
        ch in part for ch in "[]") or part in {"str", "int", "float", "bool", "list", "dict", "none"}
