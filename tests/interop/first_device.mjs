// The user's first device, played by matrix-js-sdk with its Rust crypto
// (@matrix-org/matrix-sdk-crypto-wasm), as Element Web sets one up: cross-signing,
// secret storage with a new recovery key, and a key backup that js-sdk fills by itself.
//
// Usage: node first_device.mjs HOMESERVER_URL USER_ID [MODE]
// The password is read from the environment (READMARK_INTEROP_PASSWORD), never argv.
//
// It speaks one JSON object per line: commands on stdin, one answer per command on stdout.
// Everything js-sdk logs goes to stderr, so stdout carries the answers only.
//
// MODE "first" (the default): logs in as a new device, answers {"ready": true, "device_id"}.
//   {"cmd": "set_up", "room": ROOM}       joins the room, bootstraps cross-signing, secret
//     (optional "passphrase")               storage (its key derived from the passphrase when
//                                           given, as Element's "security phrase") and key
//                                           backup; answers {"recovery_key",
//                                           "device_id", "backup_version"}: the only place the
//                                           recovery key is ever written.
//   {"cmd": "await_key", "room", "event"}  waits until the event decrypts and its session is
//                                           in the backup on the server; {"session_id", "body"}.
//   {"cmd": "device_status", "device"}     what js-sdk thinks of another device of the user:
//                                           {"signed_by_owner", "cross_signing_verified", ...}.
// MODE "restore": logs in as another new device and, given {"cmd": "restore",
//   "recovery_key", "room", "event"}, unlocks secret storage, restores the key backup and
//   answers {"imported", "total", "body"} for the event (or "decryption_failure").
// {"cmd": "quit"} stops the client and exits 0. Any failure: {"error": "..."} and exit 1.

import * as readline from "node:readline";

// loglevel (js-sdk's logger) and the Rust crypto's tracing write through console.*: all to
// stderr, before js-sdk is loaded.
for (const name of ["log", "info", "debug", "trace", "warn"]) {
    console[name] = (...args) => console.error(...args);
}

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const { decodeRecoveryKey } = await import("matrix-js-sdk/lib/crypto-api/index.js");
logger.setLevel(process.env.READMARK_INTEROP_DEBUG ? "debug" : "warn");

const [homeserver, userId, mode = "first"] = process.argv.slice(2);
const password = process.env.READMARK_INTEROP_PASSWORD;
if (!homeserver || !userId || !password) {
    console.error("usage: READMARK_INTEROP_PASSWORD=... node first_device.mjs HOMESERVER USER_ID [first|restore]");
    process.exit(2);
}

function answer(value) {
    process.stdout.write(JSON.stringify(value) + "\n");
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what, predicate, timeoutMs = 60000, intervalMs = 200) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        last = await predicate();
        if (last) return last;
        await sleep(intervalMs);
    }
    throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// The secret storage keys this process knows, by key ID: the one it creates, or the one
// decoded from the recovery key it is given.
const secretStorageKeys = new Map();
let pendingKey = null; // a recovery key given before the key ID is known

const cryptoCallbacks = {
    getSecretStorageKey: async ({ keys }) => {
        for (const keyId of Object.keys(keys)) {
            if (secretStorageKeys.has(keyId)) return [keyId, secretStorageKeys.get(keyId)];
        }
        if (pendingKey) {
            const keyId = Object.keys(keys)[0];
            return [keyId, pendingKey];
        }
        return null;
    },
    cacheSecretStorageKey: (keyId, _keyInfo, key) => {
        secretStorageKeys.set(keyId, key);
    },
};

const login = await sdk.createClient({ baseUrl: homeserver }).loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: userId },
    password,
    initial_device_display_name: `js-sdk ${mode} device`,
});

const client = sdk.createClient({
    baseUrl: homeserver,
    userId: login.user_id,
    deviceId: login.device_id,
    accessToken: login.access_token,
    cryptoCallbacks,
});
await client.initRustCrypto({ useIndexedDB: false });
const crypto = client.getCrypto();

const prepared = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
        if (state === "PREPARED" || state === "SYNCING") resolve();
        if (state === "ERROR") reject(data?.error ?? new Error("sync error"));
    });
});
await client.startClient({ initialSyncLimit: 20 });
await prepared;
answer({ ready: true, device_id: login.device_id });

// The event as the server has it now, decrypted afresh (a copy in the timeline that failed
// to decrypt before a key came from the backup would keep its failure).
async function event(roomId, eventId) {
    let raw;
    try {
        raw = await client.fetchRoomEvent(roomId, eventId);
    } catch (error) {
        if (error.httpStatus === 404 || error.httpStatus === 403) return null;
        throw error;
    }
    const found = new sdk.MatrixEvent(raw);
    await client.decryptEventIfNeeded(found);
    return found;
}

function clearBody(found) {
    if (!found || found.isBeingDecrypted()) return null;
    if (found.isDecryptionFailure()) return null;
    return found.getClearContent()?.body ?? null;
}

async function backedUp(version, roomId, sessionId) {
    const path = `/room_keys/keys/${encodeURIComponent(roomId)}/${encodeURIComponent(sessionId)}`;
    try {
        await client.http.authedRequest("GET", path, { version });
        return true;
    } catch (error) {
        if (error.httpStatus === 404) return false;
        throw error;
    }
}

const commands = {
    async set_up({ room, passphrase }) {
        await client.joinRoom(room);
        await crypto.bootstrapCrossSigning({
            authUploadDeviceSigningKeys: async (makeRequest) => {
                await makeRequest({
                    type: "m.login.password",
                    identifier: { type: "m.id.user", user: login.user_id },
                    password,
                });
            },
        });
        let recoveryKey = null;
        await crypto.bootstrapSecretStorage({
            createSecretStorageKey: async () => {
                const key = await crypto.createRecoveryKeyFromPassphrase(passphrase);
                recoveryKey = key.encodedPrivateKey;
                return key;
            },
            setupNewSecretStorage: true,
            setupNewKeyBackup: true,
        });
        const version = await until("the key backup to be active", () => crypto.getActiveSessionBackupVersion());
        const status = await crypto.getCrossSigningStatus();
        if (!status.publicKeysOnDevice || !status.privateKeysInSecretStorage) {
            throw new Error(`cross-signing not set up: ${JSON.stringify(status)}`);
        }
        return { recovery_key: recoveryKey, device_id: login.device_id, backup_version: version };
    },

    async await_key({ room, event: eventId }) {
        const found = await until(`${eventId} to decrypt`, async () => {
            const e = await event(room, eventId);
            return clearBody(e) !== null && e;
        });
        const sessionId = found.getWireContent().session_id;
        const version = await crypto.getActiveSessionBackupVersion();
        await until(`session ${sessionId} in backup ${version}`, () => backedUp(version, room, sessionId), 60000, 500);
        return { session_id: sessionId, body: clearBody(found), backup_version: version };
    },

    async device_status({ device }) {
        // readmark's signature reaches js-sdk as a device list change; wait a little for it.
        let status = null;
        try {
            await until(`${device} to be cross-signed`, async () => {
                await crypto.getUserDeviceInfo([login.user_id], true);
                status = await crypto.getDeviceVerificationStatus(login.user_id, device);
                return status?.crossSigningVerified;
            }, 20000, 500);
        } catch {
            // answer with what it thinks anyway
        }
        if (!status) return { known: false };
        return {
            known: true,
            signed_by_owner: status.signedByOwner,
            cross_signing_verified: status.crossSigningVerified,
            locally_verified: status.localVerified,
            is_verified: status.isVerified(),
        };
    },

    async restore({ recovery_key, room, event: eventId }) {
        pendingKey = decodeRecoveryKey(recovery_key);
        await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
        const check = await crypto.checkKeyBackupAndEnable();
        if (!check?.backupInfo) throw new Error("no key backup on the server");
        const result = await crypto.restoreKeyBackup();
        let body = null;
        try {
            body = await until(`${eventId} to decrypt`, async () => {
                return clearBody(await event(room, eventId));
            }, 20000);
        } catch {
            const e = await event(room, eventId);
            return { imported: result.imported, total: result.total, body: null,
                     decryption_failure: e?.decryptionFailureReason ?? "event not found" };
        }
        return { imported: result.imported, total: result.total, body,
                 backup_version: check.backupInfo.version };
    },
};

async function quit(code) {
    client.stopClient();
    await sleep(50);
    process.exit(code);
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
    if (!line.trim()) continue;
    const { cmd, ...args } = JSON.parse(line);
    if (cmd === "quit") break;
    try {
        if (!(cmd in commands)) throw new Error(`unknown command ${cmd}`);
        answer(await commands[cmd](args));
    } catch (error) {
        answer({ error: String(error?.stack ?? error) });
        await quit(1);
    }
}
await quit(0);
