/** OpenAI `GET /v1/models`: the targets and groups this token may use, nothing else. */
export function renderModelList(models: readonly string[]): unknown {
  return {
    object: 'list',
    data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'sipp-gateway' })),
  };
}
