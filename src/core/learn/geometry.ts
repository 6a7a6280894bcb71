/**
 * The strategies' geometry: the space in which typicality, the k-means clusters, the cover graph,
 * Cluster-Margin's groups and the density factor measure how close two images are.
 *
 * The embeddings, L2-normalised and centred, are projected on their leading principal directions,
 * each scaled to unit variance (full whitening), and each row is scaled to unit length again, so
 * that distances are cosine distances between whitened embeddings. On the dev dataset this makes
 * neighbourhoods much more often of one leaf than the classifier's 64-d PCA projection that the
 * strategies used until session 15 (the pool of tuning split 1, 3,000 images' neighbours: the
 * nearest shares the image's leaf 42.6 % of the time against 35.1 %, the ten nearest 32.3 % against
 * 25.5 %), and the representative picks follow (docs/al-tuning.md, session 16).
 */
import { fitPreprocessing, preprocess, type Features } from './softmax';

/** Principal directions of the strategies' geometry. */
export const GEOMETRY_DIMS = 256;

/**
 * Dimensions of the features BALD's Laplace posterior is built on: the classifier inputs on their
 * leading principal directions (a posterior on the geometry's 256 would cost (257/65)³ ≈ 60 times as
 * much per leaf to factorise).
 */
export const POSTERIOR_DIMS = 64;

/** The geometry of `raw`'s rows (see above): whitened on the leading `dims` principal directions, rows at unit length. */
export function strategyGeometry(raw: Features, images?: readonly string[], dims = GEOMETRY_DIMS): Features {
  const G = preprocess(raw, fitPreprocessing(raw, { images, project: { dims, shrinkage: 0 } }), images);
  const d = G.dim;
  for (let i = 0; i < G.n; i++) {
    const o = i * d;
    let sq = 0;
    for (let j = 0; j < d; j++) sq += G.data[o + j] * G.data[o + j];
    if (!(sq > 0)) continue;
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < d; j++) G.data[o + j] *= inv;
  }
  return G;
}
