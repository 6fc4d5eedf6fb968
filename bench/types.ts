/** One line of `npm run bench`. `ratio` is value ÷ the floor measured in the same run. */
export type BenchRow = { name: string; value: number; unit: string; ratio?: number; note?: string };
