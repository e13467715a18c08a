export async function explainMain(_args: readonly string[]): Promise<number> {
  return 0;
}
