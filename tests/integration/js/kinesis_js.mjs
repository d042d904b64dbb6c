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
// (numbers) both ways. Pseudo-ops: {"op": "Sleep", "ms": n}; WaitActive and ReadShard (below).
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

async function runStep(client, step) {
	if (step.op === "Sleep") {
		await sleep(step.ms ?? 0);
		return { ok: {} };
	}
	if (step.op === "WaitActive" || step.op === "ReadShard") {
		try {
			const fn = step.op === "WaitActive" ? waitActive : readShard;
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
