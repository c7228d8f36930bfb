/** Tabs with the ARIA tabs pattern: arrow keys move between tabs, the panel follows. */
import type { ComponentChildren } from "preact";
import { useId, useRef } from "preact/hooks";

/** A tab strip and the selected panel. */
export function Tabs(props: { label: string; tabs: { id: string; label: ComponentChildren }[]; selected: string; onSelect: (id: string) => void; children: ComponentChildren }) {
  const base = useId();
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const index = Math.max(0, props.tabs.findIndex((t) => t.id === props.selected));
  const go = (i: number) => {
    const next = (i + props.tabs.length) % props.tabs.length;
    props.onSelect(props.tabs[next]!.id);
    refs.current[next]?.focus();
  };
  return (
    <div class="tabs">
      <div role="tablist" aria-label={props.label} class="tablist">
        {props.tabs.map((tab, i) => (
          <button
            key={tab.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`${base}-tab-${tab.id}`}
            aria-selected={i === index}
            aria-controls={`${base}-panel`}
            tabIndex={i === index ? 0 : -1}
            onClick={() => props.onSelect(tab.id)}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight") go(i + 1);
              else if (e.key === "ArrowLeft") go(i - 1);
              else if (e.key === "Home") go(0);
              else if (e.key === "End") go(props.tabs.length - 1);
              else return;
              e.preventDefault();
            }}
          >
            {tab.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-tab-${props.tabs[index]?.id}`} tabIndex={0} class="tabpanel">
        {props.children}
      </div>
    </div>
  );
}
