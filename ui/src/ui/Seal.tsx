// The seal mark: 印 drawn as strokes inside a circle, so it looks the same with or without a
// Japanese font installed.

export function Seal({ size = 40 }: { size?: number }) {
  return (
    <svg class="seal-mark" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true">
      <circle cx="12" cy="12" r="10.5" />
      <path d="M10.5 6.2L7 7.4v10.4h3.6M7 12.2h3.2M13.4 6.6h4.4v7.2l-1.6-1M13.4 6.6v12.6" />
    </svg>
  );
}
