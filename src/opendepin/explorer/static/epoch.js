// An epoch: its manifest, settlement, leaves, and the "verify my reward" panel (checked in the browser).
import { api, el, show, ready, showError, tokens, when, facts, table, reasons, pathTail, param } from "./common.js";
import { bytesToHex, hexToBytes, leafHash, processProof } from "./merkle.js";

function amounts(map, token) {
  const entries = Object.entries(map || {});
  if (!entries.length) return el("span", { class: "muted" }, "none");
  return el("ul", { class: "plain" }, entries.map(([k, v]) => el("li", {}, `${k}: `, tokens(v, token))));
}

function verifyPanel(manifest, settlement) {
  const leaves = manifest.leaves || [];
  const address = el("input", { id: "verify-address", list: "owners", size: 46, placeholder: "0x… owner address" });
  const owners = el("datalist", { id: "owners" }, leaves.map(([owner]) => el("option", { value: owner })));
  const amount = el("input", { id: "verify-amount", size: 30, placeholder: "cumulative amount (smallest units)" });
  const proof = el("textarea", { id: "verify-proof", rows: 6, cols: 70, placeholder: "one sibling hash per line" });
  const result = el("div", { id: "verify-result", role: "status" });

  function check() {
    try {
      const leaf = leafHash(address.value.trim(), amount.value.trim());
      const siblings = proof.value.split(/\s+/).filter(Boolean).map(hexToBytes);
      const root = bytesToHex(processProof(leaf, siblings));
      const matches = root.toLowerCase() === String(manifest.root).toLowerCase();
      const lines = [
        el("p", { class: matches ? "verdict ok" : "verdict bad", id: "verify-verdict" },
          matches ? "match: the proof leads to the epoch's root" : "differs: the proof does not lead to the epoch's root"),
        facts([
          ["leaf (computed here)", el("code", {}, bytesToHex(leaf))],
          ["root (computed here)", el("code", {}, root)],
          ["root (manifest)", el("code", {}, manifest.root)],
        ]),
      ];
      if (settlement.chain) {
        const onChain = settlement.chain_root;
        const same = onChain && onChain.toLowerCase() === root.toLowerCase();
        lines.push(el("p", { id: "verify-chain", class: same ? "verdict ok" : "verdict bad" },
          onChain ? (same ? `match: the ${settlement.chain} chain holds this root` : `differs: the ${settlement.chain} chain holds ${onChain}`)
                  : `the ${settlement.chain} chain holds no root for this epoch yet`));
      } else {
        lines.push(el("p", { class: "muted", id: "verify-chain" }, "This node is not connected to its settlement chain: compared with the manifest only."));
      }
      result.replaceChildren(...lines);
      result.dataset.verdict = matches ? "match" : "differs";
    } catch (error) {
      result.replaceChildren(el("p", { class: "verdict bad", id: "verify-verdict" }, `differs: ${error.message}`));
      result.dataset.verdict = "differs";
    }
  }

  async function fetchProof() {
    result.replaceChildren(el("p", { class: "muted" }, "fetching the proof…"));
    try {
      const answer = await api(`/v1/epochs/${manifest.number}/proof/${encodeURIComponent(address.value.trim())}`);
      address.value = answer.account;
      amount.value = answer.cumulative;
      proof.value = answer.proof.join("\n");
      check();
    } catch (error) {
      result.replaceChildren(el("p", { class: "verdict bad", id: "verify-verdict" }, `${error.reason}: ${error.message}`));
      result.dataset.verdict = "error";
    }
  }

  const owner = param("owner");
  if (owner) {
    address.value = owner;
    fetchProof();
  }
  return el(
    "section",
    { class: "verify", id: "verify" },
    el("h2", {}, "Verify my reward"),
    el("p", {}, "Enter an owner address: the node sends its cumulative amount and Merkle proof; this page hashes the leaf and the proof itself (keccak-256, OpenZeppelin's StandardMerkleTree) and compares the result with the root. Edit any field and check again."),
    el("div", { class: "controls" }, address, owners, el("button", { type: "button", id: "verify-fetch", onclick: fetchProof }, "Fetch proof and verify")),
    el("label", {}, "cumulative amount ", amount),
    el("label", { class: "block" }, "proof", proof),
    el("button", { type: "button", id: "verify-check", onclick: check }, "Check again"),
    result,
  );
}

async function main() {
  try {
    const number = Number(pathTail());
    const [manifest, settlement] = await Promise.all([api(`/v1/epochs/${number}`), api(`/v1/epochs/${number}/settlement`)]);
    const token = settlement.token;
    const bundleHash = el("code", { id: "bundle-sha256" }, "computing…");
    const leaves = manifest.leaves || [];
    show(
      el("h1", {}, `Epoch ${manifest.number}`),
      el("p", {}, el("a", { href: `/epochs/${number - 1}` }, "← previous"), " · ", el("a", { href: `/epochs/${number + 1}` }, "next →")),
      el("section", {}, el("h2", {}, "Manifest"),
        facts([
          ["window", `${when(manifest.start)} → ${when(manifest.end)}`],
          ["root", el("code", { id: "root" }, manifest.root ?? "none (nobody earned)")],
          ["leaves", String(manifest.leaf_count)],
          ["emitted", tokens(manifest.emitted, token)],
          ["paid", tokens(manifest.paid, token)],
          ["pools", amounts(manifest.pools, token)],
          ["paid by category", amounts(manifest.totals, token)],
          ["remainder (by cause)", amounts(manifest.remainder, token)],
          ["reports", String(manifest.reports)],
          ["rewarded devices", String(manifest.rewarded_devices)],
          ["invalid reports", reasons(manifest.invalid_by_reason)],
          ["ingest rejections", reasons(manifest.ingest_rejections)],
          ["device notes", reasons(manifest.device_notes_by_reason)],
          ["usage", manifest.usage ? `${manifest.usage.credits} credits, ratio ${manifest.usage.usage_ratio}, weight ${manifest.usage.usage_weight}` : "–"],
          ["params digest", el("code", {}, manifest.params_digest)],
          ["inputs digest", el("code", {}, manifest.inputs_digest)],
          ["engine", manifest.engine_version],
          ["bundle SHA-256", el("span", {}, bundleHash, " ", el("a", { href: `/v1/epochs/${number}/bundle` }, "download bundle"))],
        ])),
      el("section", {}, el("h2", {}, "Settlement"),
        facts([
          ["status", el("span", { id: "settlement-status" }, settlement.status)],
          ["chain", settlement.chain ?? "–"],
          ["root on chain", el("code", { id: "chain-root" }, settlement.chain_root ?? "–")],
        ])),
      manifest.root ? verifyPanel(manifest, settlement) : el("p", { class: "muted" }, "Nobody earned in this epoch: there is no tree to verify."),
      el("section", {}, el("h2", {}, `Leaves (${leaves.length})`),
        table(["owner", "cumulative"], leaves.slice(0, 200).map(([owner, amount]) => [el("code", {}, owner), tokens(amount, token)])),
        leaves.length > 200 ? el("p", { class: "muted" }, `first 200 of ${leaves.length}; every leaf is in the manifest (/v1/epochs/${number})`) : null),
    );
    ready("epoch");
    api(`/v1/epochs/${number}/bundle/sha256`).then((b) => (bundleHash.textContent = b.sha256)).catch((e) => (bundleHash.textContent = e.message));
  } catch (error) {
    showError(error);
  }
}

main();
