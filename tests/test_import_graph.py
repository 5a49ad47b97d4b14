"""The server's import graph has no cycle, module by module (import-linter checks packages)."""

import grimp
import networkx as nx


def _import_graph(package: str) -> nx.DiGraph:
    graph = grimp.build_graph(package, include_external_packages=False, exclude_type_checking_imports=True)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        edges.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module))
    return edges


def test_server_modules_import_without_cycles():
    graph = _import_graph("sambridge_server")
    assert graph.number_of_nodes() > 50  # the whole server was read
    cycles = sorted(nx.simple_cycles(graph), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_cycle_detection_sees_function_level_imports():
    """A lazy import inside a function counts: the check would catch a hidden cycle."""
    graph = _import_graph("sambridge_server")
    assert graph.has_edge("sambridge_server.engine.workspace", "sambridge_server.engine.training.jobs")
