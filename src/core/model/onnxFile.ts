/**
 * Reads the top level of an ONNX file (a protobuf ModelProto) without onnxruntime: enough to tell
 * an ONNX model from any other file and to read `metadata_props`, which onnxruntime-node 1.30
 * does not expose to JavaScript (its sessions only list input and output metadata).
 */

export interface OnnxHeader {
  irVersion: number;
  producer: string;
  /** ModelProto.metadata_props, key → value. */
  metadata: Record<string, string>;
}

const FIELD_IR_VERSION = 1;
const FIELD_PRODUCER_NAME = 2;
const FIELD_GRAPH = 7;
const FIELD_METADATA_PROPS = 14;

/** Parses the ModelProto's top-level fields; returns a reason string when the bytes are not an ONNX model. */
export function readOnnxHeader(bytes: Uint8Array): OnnxHeader | string {
  if (bytes.length === 0) return 'is empty (0 bytes)';
  const header: OnnxHeader = { irVersion: 0, producer: '', metadata: {} };
  let sawGraph = false;
  let pos = 0;
  const decoder = new TextDecoder();
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw new Error('truncated');
      const b = bytes[pos++];
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error('bad varint');
  };
  try {
    while (pos < bytes.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (field === 0) throw new Error('field 0');
      switch (wire) {
        case 0: {
          const v = varint();
          if (field === FIELD_IR_VERSION) header.irVersion = v;
          break;
        }
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        case 2: {
          const length = varint();
          const end = pos + length;
          if (end > bytes.length) throw new Error('truncated');
          if (field === FIELD_GRAPH) sawGraph = true;
          if (field === FIELD_PRODUCER_NAME) header.producer = decoder.decode(bytes.subarray(pos, end));
          if (field === FIELD_METADATA_PROPS) {
            const entry = readStringPair(bytes.subarray(pos, end), decoder);
            if (entry) header.metadata[entry[0]] = entry[1];
          }
          pos = end;
          break;
        }
        default:
          throw new Error(`wire type ${wire}`);
      }
    }
    if (pos !== bytes.length) throw new Error('truncated');
  } catch {
    return 'is not an ONNX model (its bytes do not parse as an ONNX ModelProto)';
  }
  if (header.irVersion === 0 || !sawGraph) return 'is not an ONNX model (no IR version or no graph)';
  return header;
}

/** StringStringEntryProto { string key = 1; string value = 2; } */
function readStringPair(bytes: Uint8Array, decoder: TextDecoder): [string, string] | undefined {
  let pos = 0;
  let key = '';
  let value = '';
  while (pos < bytes.length) {
    const tag = bytes[pos++];
    if ((tag & 7) !== 2) return undefined;
    let length = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      length |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28 || pos >= bytes.length) return undefined;
    }
    const text = decoder.decode(bytes.subarray(pos, pos + length));
    pos += length;
    if (tag >>> 3 === 1) key = text;
    else if (tag >>> 3 === 2) value = text;
  }
  return [key, value];
}
