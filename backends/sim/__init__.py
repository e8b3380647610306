"""The simulation room: servers and seeds that stand in for real infrastructure in the demo,
the tests and the benchmarks. The Kubernetes API emulator (`k8s_emulator`), the edge SSH
simulator (`edge`), the AWS demo seed for moto (`aws_demo_seed`) and the demo world that starts
them together (`demo_world`). Production adapters never import this package (an import contract)."""
