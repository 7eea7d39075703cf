"""The facts every part of the pipeline shares, defined once (standard library only).

The stacks, the command-line tool, the simulator and the tests import this package; the Lambda
functions get it as a layer built from this very folder at synth (stacks/contract_layer.py), so a
handler and the stack that deploys it cannot disagree.

- :mod:`contract.names`: the Personalize naming scheme of a pipeline.
- :mod:`contract.layout`: where things are in the data bucket.
- :mod:`contract.personalize`: Personalize's statuses and training modes, as the pipeline uses them.
- :mod:`contract.events`: the outcome event and its failed stages, the CloudWatch namespace and metric names.
- :mod:`contract.schedule`: the EventBridge Scheduler expression grammar, parsed once.
- :mod:`contract.resources`: custom resource types and Step Functions integrations.
- :mod:`contract.functions`: every Lambda function: code folder, handler, memory, timeout.
- :mod:`contract.readiness`: how each resource is known to be ready, and the wait bounds.
- :mod:`contract.wait_states`: the state names of one "wait until ready" fragment.
- :mod:`contract.logs`: the one structured log record every function writes.
- :mod:`contract.timestamps`: timestamps as the pipeline receives them.
"""
