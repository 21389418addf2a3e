// sigstore-js driver for tests/real_clients.rs. Only the published packages'
// public APIs are called; the Rust test checks the exit code and output.
//
//   node client.js sign   --fulcio URL --rekor URL [--tsa URL] --token-file F --artifact A --bundle OUT
//   node client.js attest --fulcio URL --rekor URL --token-file F --statement S --bundle OUT
//   node client.js sign|attest --signing-config F ... (sigstore-js 5: CA, log and TSA
//                         from the signing config, the log of the highest version it speaks)
//   node client.js verify --trusted-root F --bundle B --artifact A --san S --issuer I
//                         [--oid OID=VALUE ...]
//
// Exit 0 on success; any error is printed and exits 1.
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const { parseArgs } = require('util');
const sigstore = require('sigstore');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const INTOTO = 'application/vnd.in-toto+json';

function signOptions(args) {
  const token = fs.readFileSync(args['token-file'], 'utf8').trim();
  return {
    fulcioURL: args.fulcio,
    rekorURL: args.rekor,
    // An RFC 3161 timestamp from this TSA (signing_config.json's tsaUrls).
    tsaServerURL: args.tsa,
    identityProvider: { getToken: async () => token },
    // One attempt: a refusal must surface, not be retried into a timeout.
    retry: 0,
  };
}

// sigstore-js 5's bundle builder made from a signing config: what a client
// configured the way sigstore configures clients now does.
async function signFromConfig(args, payload, payloadType) {
  const { bundleBuilderFromSigningConfig } = require('@sigstore/sign');
  const { SigningConfig } = require('@sigstore/protobuf-specs');
  const { bundleToJSON } = require('@sigstore/bundle');
  const token = fs.readFileSync(args['token-file'], 'utf8').trim();
  const builder = bundleBuilderFromSigningConfig({
    signingConfig: SigningConfig.fromJSON(
      JSON.parse(fs.readFileSync(args['signing-config'], 'utf8'))
    ),
    identityProvider: { getToken: async () => token },
    bundleType: payloadType ? 'dsseEnvelope' : 'messageSignature',
    fetchOptions: { timeout: 20000, retry: 0 },
  });
  const artifact = payloadType ? { data: payload, type: payloadType } : { data: payload };
  return bundleToJSON(await builder.create(artifact));
}

// The policy's SAN is a regular expression in sigstore-js: anchor and escape
// it so only the exact identity matches.
function exact(s) {
  return '^' + s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '$';
}

// Fulcio's v2 extensions hold a DER UTF8String; sigstore-js compares the
// extension's raw value, so the policy carries the DER bytes.
function derUtf8(value) {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 127) throw new Error('OID value too long for this driver');
  return Buffer.concat([Buffer.from([0x0c, bytes.length]), bytes]);
}

async function main() {
  const { positionals, values: args } = parseArgs({
    allowPositionals: true,
    options: {
      fulcio: { type: 'string' },
      rekor: { type: 'string' },
      tsa: { type: 'string' },
      'signing-config': { type: 'string' },
      'token-file': { type: 'string' },
      artifact: { type: 'string' },
      statement: { type: 'string' },
      bundle: { type: 'string' },
      'trusted-root': { type: 'string' },
      san: { type: 'string' },
      issuer: { type: 'string' },
      oid: { type: 'string', multiple: true },
    },
  });

  switch (positionals[0]) {
    case 'sign': {
      const artifact = fs.readFileSync(args.artifact);
      const bundle = args['signing-config']
        ? await signFromConfig(args, artifact)
        : await sigstore.sign(artifact, signOptions(args));
      fs.writeFileSync(args.bundle, JSON.stringify(bundle));
      break;
    }
    case 'attest': {
      const statement = fs.readFileSync(args.statement);
      const bundle = args['signing-config']
        ? await signFromConfig(args, statement, INTOTO)
        : await sigstore.attest(statement, INTOTO, signOptions(args));
      fs.writeFileSync(args.bundle, JSON.stringify(bundle));
      break;
    }
    case 'verify': {
      const trustedRoot = TrustedRoot.fromJSON(
        JSON.parse(fs.readFileSync(args['trusted-root'], 'utf8'))
      );
      const verifier = new Verifier(toTrustMaterial(trustedRoot), {
        ctlogThreshold: 1,
        tlogThreshold: 1,
      });
      const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(args.bundle, 'utf8')));
      const artifact = fs.readFileSync(args.artifact);
      const policy = {
        subjectAlternativeName: exact(args.san),
        extensions: { issuer: args.issuer },
        oids: (args.oid || []).map((pair) => {
          const at = pair.indexOf('=');
          return {
            oid: { id: pair.slice(0, at).split('.').map(Number) },
            value: derUtf8(pair.slice(at + 1)),
          };
        }),
      };
      if (bundle.content.$case === 'dsseEnvelope') {
        // sigstore-js checks the envelope signature only; binding the
        // in-toto subject to the artifact is the caller's job (as in the
        // python CLI).
        verifier.verify(toSignedEntity(bundle), policy);
        const envelope = bundle.content.dsseEnvelope;
        if (envelope.payloadType !== INTOTO) throw new Error(`payloadType ${envelope.payloadType}`);
        const statement = JSON.parse(envelope.payload.toString('utf8'));
        const digest = crypto.createHash('sha256').update(artifact).digest('hex');
        if (!statement.subject.some((s) => s.digest && s.digest.sha256 === digest)) {
          throw new Error(`no in-toto subject with sha256 ${digest}`);
        }
      } else {
        verifier.verify(toSignedEntity(bundle, artifact), policy);
      }
      break;
    }
    default:
      throw new Error(`unknown command ${positionals[0]}`);
  }
  console.log('ok');
}

main().catch((err) => {
  console.error(`sigstore-js: ${err && err.code ? err.code + ': ' : ''}${err && err.message}`);
  process.exit(1);
});
