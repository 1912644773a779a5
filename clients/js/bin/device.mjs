#!/usr/bin/env node
// A device on an opendepin network: onboards itself (maker attestation + owner location assertion) and
// sends signed heartbeats and speed tests to a node, printing one JSON object with every status.
//
//   DEPIN_DEVICE_SECRET=<64 hex> DEPIN_MAKER_SECRET=<64 hex> DEPIN_OWNER_SECRET=<64 hex> \
//     node clients/js/bin/device.mjs --node http://127.0.0.1:8080 --network opendepin-local \
//       --cell 8c1f1d48945d9ff --lat 52.52 --lon 13.405 --heartbeats 3 --speedtests 2
//
// Secrets come from the environment, never the command line. On a real network the maker signs at the
// factory and the owner in a wallet: pass their signed JSON with --attestation FILE (maker, maker_signature,
// attributes) and --location FILE (owner, cell, nonce, signature, attributes) instead of their secrets.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import {
  DeviceKey,
  Wallet,
  bytesToHex,
  onboard,
  onboardingRequest,
  sendReports,
  signReport,
} from "../src/device.mjs";

const HELP = `usage: device.mjs --node URL --network NAME --cell H3 --lat DEG --lon DEG [options]

  --node URL            the node's base URL, e.g. http://127.0.0.1:8080
  --network NAME        the network's name (its network.toml \`name\`), part of the signed onboarding texts
  --key-type TYPE       ed25519 (default) or p256
  --cell H3             the owner's asserted H3 cell, resolution 12
  --lat DEG --lon DEG   the position the heartbeats report
  --heartbeats N        heartbeats to send (default 3)
  --speedtests N        speed tests to send (default 2)
  --download-mbps X --upload-mbps X --latency-ms X   speed test figures (default 150.5, 20.5, 25.5)
  --seq N               first sequence number (default: Unix milliseconds now, so a restart keeps growing)
  --nonce N             the location assertion's nonce (default 1)
  --maker-attributes JSON  --owner-attributes JSON   signed attributes (default {"mode":"full","region":"EU868"}, {})
  --attestation FILE    the maker's signed attestation (instead of DEPIN_MAKER_SECRET)
  --location FILE       the owner's signed location assertion (instead of DEPIN_OWNER_SECRET)
  --no-onboard          skip onboarding (the device is registered already)

environment: DEPIN_DEVICE_SECRET (a new key when unset), DEPIN_MAKER_SECRET, DEPIN_OWNER_SECRET (hex)`;

function fail(message) {
  process.stderr.write(`error: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    node: { type: "string" },
    network: { type: "string" },
    "key-type": { type: "string", default: "ed25519" },
    cell: { type: "string" },
    lat: { type: "string" },
    lon: { type: "string" },
    heartbeats: { type: "string", default: "3" },
    speedtests: { type: "string", default: "2" },
    "download-mbps": { type: "string", default: "150.5" },
    "upload-mbps": { type: "string", default: "20.5" },
    "latency-ms": { type: "string", default: "25.5" },
    seq: { type: "string" },
    nonce: { type: "string", default: "1" },
    "maker-attributes": { type: "string", default: '{"mode":"full","region":"EU868"}' },
    "owner-attributes": { type: "string", default: "{}" },
    attestation: { type: "string" },
    location: { type: "string" },
    "no-onboard": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
for (const name of ["node", "network", "lat", "lon"]) if (args[name] === undefined) fail(`--${name} is required`);

const number = (name) => {
  const value = Number(args[name]);
  if (!Number.isFinite(value)) fail(`--${name} must be a number, got ${args[name]}`);
  return value;
};
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

const secret = process.env.DEPIN_DEVICE_SECRET ?? bytesToHex(randomBytes(32));
const device = new DeviceKey(args["key-type"], secret);
const out = { device_id: device.deviceId };

if (!args["no-onboard"]) {
  if (args.cell === undefined) fail("--cell is required to onboard");
  const makerSecret = process.env.DEPIN_MAKER_SECRET;
  const ownerSecret = process.env.DEPIN_OWNER_SECRET;
  let request;
  if (makerSecret && ownerSecret) {
    request = onboardingRequest({
      network: args.network,
      device,
      maker: new Wallet(makerSecret),
      owner: new Wallet(ownerSecret),
      cell: args.cell,
      nonce: Number(args.nonce),
      makerAttributes: JSON.parse(args["maker-attributes"]),
      ownerAttributes: JSON.parse(args["owner-attributes"]),
    });
  } else if (args.attestation && args.location) {
    const maker = readJson(args.attestation);
    const location = readJson(args.location);
    request = {
      device_id: device.deviceId,
      owner: location.owner,
      maker: maker.maker,
      maker_signature: maker.maker_signature,
      attributes: maker.attributes ?? {},
      location: {
        cell: location.cell,
        nonce: location.nonce,
        signature: location.signature,
        attributes: location.attributes ?? {},
      },
    };
  } else {
    fail("set DEPIN_MAKER_SECRET and DEPIN_OWNER_SECRET, or pass --attestation and --location files");
  }
  out.onboarding = await onboard(args.node, request);
  if (out.onboarding.status !== 201) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    process.exit(1);
  }
}

let seq = args.seq === undefined ? Date.now() : Number(args.seq);
const reports = [];
const now = () => Math.floor(Date.now() / 1000);
const position = { lat: number("lat"), lon: number("lon") };
for (let i = 0; i < Number(args.heartbeats); i += 1) {
  reports.push(signReport(device, "wireless.heartbeat", now(), seq++, position));
}
const speed = {
  download_mbps: number("download-mbps"),
  upload_mbps: number("upload-mbps"),
  latency_ms: number("latency-ms"),
};
for (let i = 0; i < Number(args.speedtests); i += 1) {
  reports.push(signReport(device, "wireless.speedtest", now(), seq++, speed));
}
out.reports = await sendReports(args.node, reports);
out.report_ids = reports.map((report) => report.id);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(out.reports.status === 200 ? 0 : 1);
