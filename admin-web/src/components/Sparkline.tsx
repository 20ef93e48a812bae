/** A tiny requests-over-the-window line for table rows (decorative; the row has the numbers). */
export function Sparkline({ values, tone = 'a' }: { values: number[]; tone?: 'a' | 'bad' }) {
  const max = Math.max(1, ...values);
  const n = values.length;
  const points = values
    .map((v, i) => `${n <= 1 ? 0 : ((i / (n - 1)) * 100).toFixed(1)},${(22 - (v / max) * 20).toFixed(1)}`)
    .join(' ');
  return (
    <svg
      className={`spark spark-${tone}`}
      viewBox="0 0 100 24"
      preserveAspectRatio="none"
      width="96"
      height="24"
      aria-hidden="true"
      focusable="false"
    >
      <polyline points={points} vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
