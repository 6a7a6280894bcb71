/**
 * Plots `taxon al-sim --json` output: leaf top-1 against labels, one line per strategy, as an SVG
 * drawn here and rendered to PNG with sharp.
 *
 *   node --import tsx test/bench/al-plot.ts [bench-results/al-sim.json] [docs/al-curves.png]
 */
import * as fs from 'node:fs';
import sharp from 'sharp';

interface Result {
  strategies: { strategy: string; curve: { labels: number; leafTop1: number }[]; labelsToMatchRandom: Record<string, number | null> }[];
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];

export function curvesSvg(r: Result, title: string): string {
  const W = 900;
  const H = 560;
  const m = { l: 70, r: 230, t: 50, b: 60 };
  const pts = r.strategies.flatMap((s) => s.curve);
  const xMax = Math.max(...pts.map((p) => p.labels));
  const yMin = Math.floor(Math.min(...pts.map((p) => p.leafTop1)) * 20) / 20;
  const yMax = Math.ceil(Math.max(...pts.map((p) => p.leafTop1)) * 20) / 20;
  const x = (v: number) => m.l + (v / xMax) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - ((v - yMin) / (yMax - yMin)) * (H - m.t - m.b);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${m.l}" y="28" font-size="16" font-weight="bold">${escape(title)}</text>`);
  const xStep = xMax > 2000 ? 500 : 200;
  for (let v = 0; v <= xMax; v += xStep) {
    out.push(`<line x1="${x(v)}" y1="${m.t}" x2="${x(v)}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${H - m.b + 18}" text-anchor="middle">${v}</text>`);
  }
  for (let v = yMin; v <= yMax + 1e-9; v += 0.05) {
    out.push(`<line x1="${m.l}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${(v * 100).toFixed(0)} %</text>`);
  }
  out.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 15}" text-anchor="middle">labels (seed labels included)</text>`);
  out.push(`<text transform="translate(20 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">leaf top-1 (test)</text>`);
  r.strategies.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const dash = s.strategy === 'random' ? ' stroke-dasharray="6 4"' : '';
    const width = s.strategy === 'hybrid' ? 3 : 1.8;
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="${width}"${dash} points="${s.curve.map((p) => `${x(p.labels).toFixed(1)},${y(p.leafTop1).toFixed(1)}`).join(' ')}"/>`);
    const ly = m.t + 10 + i * 22;
    out.push(`<line x1="${W - m.r + 15}" y1="${ly}" x2="${W - m.r + 45}" y2="${ly}" stroke="${c}" stroke-width="${width}"${dash}/>`);
    out.push(`<text x="${W - m.r + 52}" y="${ly + 4}">${escape(s.strategy)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

if (require.main === module) {
  const input = process.argv[2] ?? 'bench-results/al-sim.json';
  const output = process.argv[3] ?? 'docs/al-curves.png';
  const r = JSON.parse(fs.readFileSync(input, 'utf8')) as Result & { setup?: { repeats: number; pool: number } };
  const svg = curvesSvg(r, `Simulated labelling, tinyimagenet-wordnet (${r.setup?.pool ?? '?'} pool, mean of ${r.setup?.repeats ?? '?'} repeats)`);
  fs.writeFileSync(output.replace(/\.png$/, '.svg'), svg);
  void sharp(Buffer.from(svg)).png().toFile(output).then(() => console.log(`written ${output}`));
}
