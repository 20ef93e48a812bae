/**
 * The header row of the dashboard's traffic tables (Callers, Targets, groups):
 * one `<th scope="col">` per column; a `{ num }` column is right-aligned over
 * its numbers (class `num`), as the cells below it are.
 */
export type Column = string | { num: string };

export function TableHead({ columns }: { columns: readonly Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) =>
          typeof c === 'string' ? (
            <th key={c} scope="col">
              {c}
            </th>
          ) : (
            <th key={c.num} scope="col" className="num">
              {c.num}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
