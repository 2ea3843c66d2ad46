// The demo's "ops-db" upstream: a real MCP server on stdio (the gateway spawns it) answering from a
// small in-memory table of customers. Plain JavaScript so that the gateway can start it with `node`.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

// Test card numbers (they pass the Luhn check, which is what the policy's detector looks for).
const CUSTOMERS = [
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', card: '4111 1111 1111 1111', plan: 'enterprise' },
  { id: 2, name: 'Alan Turing', email: 'alan@example.com', card: '5555 5555 5555 4444', plan: 'team' },
];

const TOOLS = [
  {
    name: 'query',
    description: 'Run one SQL statement against the operations database',
    inputSchema: { type: 'object', properties: { sql: { type: 'string' } }, required: ['sql'] },
    annotations: { readOnlyHint: true },
  },
  {
    name: 'list_tables',
    description: 'List the tables of the operations database',
    inputSchema: { type: 'object', properties: {} },
    annotations: { readOnlyHint: true },
  },
  {
    name: 'drop_table',
    description: 'Drop a table',
    inputSchema: { type: 'object', properties: { table: { type: 'string' } }, required: ['table'] },
    annotations: { destructiveHint: true },
  },
];

const text = (value) => ({ content: [{ type: 'text', text: value }] });

const server = new Server({ name: 'ops-db', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const args = request.params.arguments ?? {};
  switch (request.params.name) {
    case 'list_tables':
      return text('customers, incidents, deploys');
    case 'query': {
      // No SQL engine here: any read of customers answers the whole table, one line per row.
      const rows = CUSTOMERS.map((c) => `${c.id} | ${c.name} | ${c.email} | ${c.card} | ${c.plan}`);
      return text(['id | name | email | card | plan', ...rows].join('\n'));
    }
    case 'drop_table':
      return text(`dropped ${String(args.table)}`);
    default:
      throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
  }
});
await server.connect(new StdioServerTransport());
