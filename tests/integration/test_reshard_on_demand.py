"""On-demand capacity: a hot shard of an ON_DEMAND stream is split by measured write load.

The bar (`on_demand_set`) is lowered so a single boto3 writer crosses it; spate-control samples
the dataplane's per-shard counters every 5 s and splits a shard above it through the same state
machine as SplitShard. A PROVISIONED stream under the same load is left alone.
"""
import json
import time

import pytest

from kinesis_env import list_all_shards, md5_hash_key, wait_active


def _set_bar(kenv, records_per_s, bytes_per_s):
    kenv.instance.spatectl("call", "on_demand_set", json.dumps(
        {"split_records_per_s": records_per_s, "split_bytes_per_s": bytes_per_s}))


def test_hot_shard_split_by_load(kenv, streams):
    if not kenv.is_spate or kenv.instance is None:
        pytest.skip("needs the appliance")
    c = kenv.client()
    hot = streams.name()
    cold = streams.create(shards=1)
    c.create_stream(StreamName=hot, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(c, hot)
    before = {s["ShardId"] for s in list_all_shards(c, hot)}
    assert len(before) == 4
    key = "hot-key"
    hot_shard = [s["ShardId"] for s in list_all_shards(c, hot)
                 if int(s["HashKeyRange"]["StartingHashKey"]) <= md5_hash_key(key)
                 <= int(s["HashKeyRange"]["EndingHashKey"])][0]
    _set_bar(kenv, 100, 0)
    try:
        split = False
        deadline = time.time() + 40
        while time.time() < deadline and not split:
            for name in (hot, cold):
                c.put_records(StreamName=name, Records=[
                    {"Data": b"x" * 100, "PartitionKey": key} for _ in range(100)])
            shards = {s["ShardId"]: s for s in list_all_shards(c, hot)}
            split = any(s.get("ParentShardId") == hot_shard for s in shards.values())
        assert split, "the hot shard %s was not split" % hot_shard
        wait_active(c, hot)
        kids = [s for s in list_all_shards(c, hot) if s.get("ParentShardId") == hot_shard]
        assert len(kids) == 2
        # the PROVISIONED stream under the same load keeps its one shard
        assert len(list_all_shards(c, cold)) == 1
    finally:
        _set_bar(kenv, 1000, 1 << 20)
        c.delete_stream(StreamName=hot)
