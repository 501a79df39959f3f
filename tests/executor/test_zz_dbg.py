import pytest
from tests.executor.test_executor import *
from tests.executor.test_executor import work

def test_dbg(nodes, store):
    for i in range(15):
        a = nodes.agent(f"node-a{i}", undo_timeout=1.0)
        nodes.alive(f"node-z{i}")
        with pytest.raises(TransactionFailed) as caught:
            a.run("stuck", [work("s1", f"node-a{i}"), work("s2", f"node-z{i}")], deadline=1.0)
        record = caught.value.record
        assert record.state == FAILED, (i, record.to_dict())
