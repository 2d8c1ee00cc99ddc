"""The benchmark registry and the context every benchmark receives.

A benchmark is a function `fn(ctx) -> dict` registered with

    @benchmark("name", "one-line description")
    def fn(ctx): ...

The dict is stored under results.json["benchmarks"][name]; a benchmark that
cannot run on this machine returns {"status": "skipped", "reason": ...}.
"""
import engines as eng


class Bench:
    def __init__(self, name, doc, fn):
        self.name, self.doc, self.fn = name, doc, fn


_REGISTRY = []


def benchmark(name, doc):
    def deco(fn):
        if any(b.name == name for b in _REGISTRY):
            raise ValueError("benchmark %r registered twice" % name)
        _REGISTRY.append(Bench(name, doc, fn))
        return fn
    return deco


def all_benchmarks():
    return list(_REGISTRY)


def select(names):
    if not names:
        return all_benchmarks()
    byname = {b.name: b for b in _REGISTRY}
    return [byname[n] for n in names]        # KeyError names the unknown one


def skipped(reason):
    return {"status": "skipped", "reason": reason}


class Context:
    """Options plus lazily-detected engines shared by all benchmarks."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.repeat = args.repeat
        self._engines = None
        self.engine_notes = {}

    @property
    def engines(self):
        if self._engines is None:
            found, self.engine_notes = eng.all_engines(not self.args.no_vmpy)
            self._vmpy = [e.engine for e in found if isinstance(e, eng.VmpyApi)]
            want = self.args.engines
            if want:
                prefixes = [w.strip() for w in want.split(",") if w.strip()]
                found = [e for e in found
                         if any(e.name.startswith(p) for p in prefixes)]
            self._engines = found
        return self._engines

    def vmpy_found(self):
        """The vmpy execution engines found (interp, jit, ...), whatever
        --engines filters out of the workload table."""
        self.engines
        return list(self._vmpy)
