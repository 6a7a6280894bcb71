/** Hand-written NumPy .npy output, so that a Python user can take Taxon's embeddings elsewhere. */

/** NumPy .npy (format 1.0) bytes of a row-major float32 matrix, header written by hand. */
export function npyFloat32(data: Float32Array, rows: number, cols: number): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(rows * cols * 4);
  for (let i = 0; i < rows * cols; i++) body.writeFloatLE(data[i], i * 4);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}
