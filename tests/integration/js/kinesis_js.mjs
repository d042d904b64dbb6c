// JS SDK v3 driver for the Kinesis API integration tests (tests/integration/test_api_js.py).
//
// Reads one JSON command on stdin:
//   {"endpoint": "http://...", "region": "us-east-1",
//    "credentials": {"accessKeyId": "...", "secretAccessKey": "..."}, "maxAttempts": 1,
//    "handler": "http1" | "default", "steps": [{"op": "PutRecord", "input": {...}}, ...]}
// runs the steps in order with @aws-sdk/client-kinesis over NodeHttpHandler (HTTP/1.1), or with
// "handler": "default" over the client's default handler (NodeHttp2Handler: HTTP/2), and prints {"handler": "...", "results": [...]} where each
// result is {"ok": output} or {"error": {"name", "message", "status", "fault"}}.
// Blobs travel as base64 text both ways (input Data, output Data); timestamps as epoch seconds
// (numbers) both ways. Pseudo-ops: {"op": "Sleep", "ms": n}; WaitActive, ReadShard and FanOut
// (below).
import * as kinesis from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

async function readStdin() {
	const chunks = [];
	for await (const c of process.stdin) {
		chunks.push(c);
	}
	return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

// Request side: base64 Data -> bytes, numeric Timestamp -> Date.
function toSdk(op, input) {
	const out = structuredClone(input ?? {});
	const blob = (v) => (typeof v === "string" ? new Uint8Array(Buffer.from(v, "base64")) : v);
	if (op === "PutRecord" && "Data" in out) {
		out.Data = blob(out.Data);
	}
	if (op === "PutRecords" && Array.isArray(out.Records)) {
		out.Records = out.Records.map((r) => ("Data" in r ? { ...r, Data: blob(r.Data) } : r));
	}
	if (typeof out.Timestamp === "number") {
		out.Timestamp = new Date(out.Timestamp * 1000);
	}
	return out;
}

// Response side: bytes -> base64, Date -> epoch seconds; $metadata reduced to the status.
function fromSdk(value) {
	if (value instanceof Uint8Array) {
		return Buffer.from(value).toString("base64");
	}
	if (value instanceof Date) {
		return value.getTime() / 1000;
	}
	if (Array.isArray(value)) {
		return value.map(fromSdk);
	}
	if (value && typeof value === "object") {
		const out = {};
		for (const [k, v] of Object.entries(value)) {
			out[k] = k === "$metadata" ? { httpStatusCode: v.httpStatusCode } : fromSdk(v);
		}
		return out;
	}
	return value;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Pseudo-op WaitActive {StreamName, timeoutMs}: poll DescribeStreamSummary until ACTIVE.
async function waitActive(client, input) {
	const deadline = Date.now() + (input.timeoutMs ?? 30000);
	for (;;) {
		const out = await client.send(
			new kinesis.DescribeStreamSummaryCommand({ StreamName: input.StreamName }),
		);
		const st = out.StreamDescriptionSummary.StreamStatus;
		if (st === "ACTIVE") {
			return out;
		}
		if (Date.now() > deadline) {
			throw new Error(`stream ${input.StreamName} still ${st}`);
		}
		await sleep(50);
	}
}

// Pseudo-op ReadShard {StreamName, ShardId, ShardIteratorType, StartingSequenceNumber?,
// Timestamp?, Want, Limit?}: GetShardIterator, then GetRecords until Want records arrived or
// 20 replies in a row came back empty. Returns {Records, Calls}.
async function readShard(client, input) {
	const { Want, Limit, ...itInput } = input;
	let it = (await client.send(new kinesis.GetShardIteratorCommand(toSdk("GetShardIterator",
		itInput)))).ShardIterator;
	const records = [];
	let calls = 0;
	let empty = 0;
	while (records.length < Want && empty < 20) {
		const out = await client.send(new kinesis.GetRecordsCommand({ ShardIterator: it,
			Limit }));
		calls++;
		records.push(...out.Records);
		it = out.NextShardIterator;
		if (out.Records.length === 0) {
			empty++;
			await sleep(50);
		} else {
			empty = 0;
		}
	}
	return { Records: records, Calls: calls };
}

// Pseudo-op FanOut {ConsumerARN, StreamName, Want, TimeoutMs}: SubscribeToShard on every shard
// ListShards names, from TRIM_HORIZON, as a KCL-style consumer: each subscription resumes after
// its ContinuationSequenceNumber when the server ends it (five minutes), a shard whose last
// event has ChildShards and no continuation is done, and a child starts once all its parents
// are done. Stops when Want records arrived or TimeoutMs passed. Returns {Shards: {id:
// [{SequenceNumber, PartitionKey, Data}]}, Events, Subscribes, Done: [ids], Errors: [..]}.
async function fanOut(client, input) {
	const shards = {};
	const done = new Set();
	const started = new Set();
	const parentsOf = {};
	const errors = [];
	const aborts = [];
	let got = 0, events = 0, subscribes = 0;
	const deadline = Date.now() + (input.TimeoutMs ?? 120000);
	const finished = () => got >= input.Want || Date.now() > deadline;

	const runShard = async (id) => {
		let pos = { Type: "TRIM_HORIZON" };
		shards[id] = shards[id] ?? [];
		while (!finished()) {
			const ac = new AbortController();
			aborts.push(ac);
			let res;
			try {
				subscribes++;
				res = await client.send(new kinesis.SubscribeToShardCommand({
					ConsumerARN: input.ConsumerARN, ShardId: id, StartingPosition: pos,
				}), { abortSignal: ac.signal });
			} catch (e) {
				if (finished()) {
					return;
				}
				errors.push({ shard: id, name: e.name, message: e.message });
				await sleep(e.name === "ResourceInUseException" ? 1000 : 200);
				continue;
			}
			try {
				for await (const ev of res.EventStream) {
					const e = ev.SubscribeToShardEvent;
					if (!e) {
						continue;
					}
					events++;
					for (const r of e.Records ?? []) {
						shards[id].push({ SequenceNumber: r.SequenceNumber,
							PartitionKey: r.PartitionKey,
							Data: Buffer.from(r.Data).toString("base64") });
						got++;
					}
					if (e.ContinuationSequenceNumber) {
						pos = { Type: "AFTER_SEQUENCE_NUMBER",
							SequenceNumber: e.ContinuationSequenceNumber };
					} else if ((e.ChildShards ?? []).length > 0) {
						done.add(id);
						for (const c of e.ChildShards) {
							parentsOf[c.ShardId] = c.ParentShards;
						}
						startReady();
						return;
					}
					if (finished()) {
						ac.abort();
						return;
					}
				}
			} catch (e) {
				if (!finished()) {
					errors.push({ shard: id, name: e.name, message: e.message });
				}
			}
		}
	};
	const tasks = [];
	const start = (id) => {
		if (!started.has(id)) {
			started.add(id);
			tasks.push(runShard(id));
		}
	};
	const startReady = () => {
		for (const [child, parents] of Object.entries(parentsOf)) {
			if (parents.every((p) => done.has(p))) {
				start(child);
			}
		}
	};
	const listed = await client.send(new kinesis.ListShardsCommand({ StreamName: input.StreamName }));
	for (const s of listed.Shards) {
		start(s.ShardId);
	}
	const timer = setInterval(() => {
		if (finished()) {
			for (const ac of aborts) {
				ac.abort();
			}
		}
	}, 200);
	for (let i = 0; i < tasks.length; i++) {
		await tasks[i]; // tasks may grow while waiting (children)
	}
	clearInterval(timer);
	return { Shards: shards, Events: events, Subscribes: subscribes, Done: [...done], Errors: errors };
}

async function runStep(client, step) {
	if (step.op === "Sleep") {
		await sleep(step.ms ?? 0);
		return { ok: {} };
	}
	if (step.op === "WaitActive" || step.op === "ReadShard" || step.op === "FanOut") {
		try {
			const fn = { WaitActive: waitActive, ReadShard: readShard, FanOut: fanOut }[step.op];
			return { ok: fromSdk(await fn(client, step.input)) };
		} catch (e) {
			return { error: { name: e.name ?? null, message: e.message ?? null,
				status: e.$metadata?.httpStatusCode ?? null, fault: e.$fault ?? null } };
		}
	}
	const Cmd = kinesis[`${step.op}Command`];
	if (!Cmd) {
		return { error: { name: "DriverError", message: `no command ${step.op}`, status: null } };
	}
	try {
		const out = await client.send(new Cmd(toSdk(step.op, step.input)));
		return { ok: fromSdk(out) };
	} catch (e) {
		return {
			error: {
				name: e.name ?? null,
				message: e.message ?? null,
				status: e.$metadata?.httpStatusCode ?? null,
				fault: e.$fault ?? null,
			},
		};
	}
}

async function main() {
	const cmd = await readStdin();
	const config = {
		endpoint: cmd.endpoint,
		region: cmd.region,
		credentials: cmd.credentials,
		maxAttempts: cmd.maxAttempts ?? 1,
	};
	// "default": the client's own handler, which for Kinesis is NodeHttp2Handler (HTTP/2,
	// prior knowledge on http://); otherwise HTTP/1.1 through NodeHttpHandler.
	if (cmd.handler !== "default") {
		config.requestHandler = new NodeHttpHandler({
			connectionTimeout: 10000,
			requestTimeout: 120000,
		});
	}
	const client = new kinesis.KinesisClient(config);
	const results = [];
	for (const step of cmd.steps) {
		results.push(await runStep(client, step));
	}
	client.destroy();
	process.stdout.write(
		JSON.stringify({ handler: client.config.requestHandler.constructor.name, results }),
	);
}

main().catch((e) => {
	process.stderr.write(`kinesis_js: ${e.stack ?? e}\n`);
	process.exit(1);
});
