// Writes the recorded key exports in this folder with Element's own code, independently of
// readmark: the sessions come from the Rust SDK's OlmMachine (as Element Web's come today),
// element-web.txt is encrypted by Element Web's MegolmExportEncryption.encryptMegolmKeyFile
// under Node's WebCrypto, and rust-sdk.txt by the Rust SDK's encryptExportedRoomKeys.
//
// Not part of the test run (the tests read the files it wrote). To run it again, outside
// the repository:
//   mkdir /tmp/keyexport-node && cd /tmp/keyexport-node && npm init -y
//   npm install @matrix-org/matrix-sdk-crypto-wasm@18.9.0
//   npm pack matrix-react-sdk@3.114.0 && tar xzf matrix-react-sdk-3.114.0.tgz package/lib/utils
//   node generate.mjs generate OUTDIR 'café ☃ export' 'rust-sdk passphrase'
//   node generate.mjs decrypt FILE PASSPHRASE   # reads a file with both Element's and Rust's decoder
import fs from "fs";
import vm from "vm";
import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";

function loadElementExportEncryption() {
  // matrix-react-sdk's compiled module, with stubs for its translation and logging imports.
  globalThis.window = globalThis;
  const stubs = {
    "@babel/runtime/helpers/interopRequireDefault": (o) => (o && o.__esModule ? o : { default: o }),
    "matrix-js-sdk/src/logger": { logger: { log: () => {}, warn: () => {}, error: () => {} } },
    "../languageHandler": { _t: (key) => key },
    "../SdkConfig": { __esModule: true, default: { get: () => ({ brand: "Element" }) } },
  };
  const source = fs.readFileSync("package/lib/utils/MegolmExportEncryption.js", "utf8");
  const module = { exports: {} };
  vm.runInThisContext("(function (exports, require, module) {" + source + "\n})")(
    module.exports, (name) => stubs[name], module);
  return module.exports;
}

const element = loadElementExportEncryption();
const [, , mode, ...args] = process.argv;
await wasm.initAsync();

if (mode === "generate") {
  const [outDir, elementPassphrase, rustPassphrase] = args;
  const machine = await wasm.OlmMachine.initialize(new wasm.UserId("@alice:example.org"), new wasm.DeviceId("ALICEDEVICE"));
  for (const room of ["!room1:example.org", "!room2:example.org"]) {
    await machine.shareRoomKey(new wasm.RoomId(room), [new wasm.UserId("@alice:example.org")], new wasm.EncryptionSettings());
  }
  const json = await machine.exportRoomKeys(() => true);
  fs.writeFileSync(`${outDir}/plaintext.json`, json);
  // Element's default of 500,000 rounds.
  fs.writeFileSync(`${outDir}/element-web.txt`, Buffer.from(await element.encryptMegolmKeyFile(json, elementPassphrase)));
  fs.writeFileSync(`${outDir}/rust-sdk.txt`, wasm.OlmMachine.encryptExportedRoomKeys(json, rustPassphrase, 100000));
} else if (mode === "decrypt") {
  const [file, passphrase] = args;
  const data = fs.readFileSync(file);
  const viaElement = await element.decryptMegolmKeyFile(data.buffer.slice(data.byteOffset, data.byteOffset + data.length), passphrase);
  const viaRust = wasm.OlmMachine.decryptExportedRoomKeys(data.toString("utf8"), passphrase);
  console.log(JSON.stringify({ element: JSON.parse(viaElement), rust: JSON.parse(viaRust) }));
}
