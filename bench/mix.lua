-- wrk script, scenario 4: per request 80% a read of one user (random id 1..50,
-- their first 5 orders with notifications, unread count), 10% placeOrder (random
-- user, one item), 10% markNotificationRead (random id in the seeded range
-- 1..151: 50 welcome notes + one per seeded order, subgraphs/kit/src/demo.rs).
-- Errors are counted and reported by wrk_common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

local USERS = 50
local NOTIFICATIONS = 151
local headers = { ["Content-Type"] = "application/json" }

local READ = 'query($id: ID!) { user(id: $id) { name orders(first: 5) { edges { node { id totalCents notifications { id read } } } } unreadNotificationCount } }'
local PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id totalCents } }'
local MARK = 'mutation($id: ID!) { markNotificationRead(id: $id) { id read } }'
local SKUS = { { "SKU-001", "Rail spike", 199 }, { "SKU-002", "Signal lamp", 4500 },
               { "SKU-003", "Switch lever", 12900 }, { "SKU-004", "Timetable", 350 } }

local function body(query, variables)
  return string.format('{"query":"%s","variables":%s}', query:gsub('"', '\\"'), variables)
end

function request()
  local r = math.random(100)
  local b
  if r <= 80 then
    b = body(READ, string.format('{"id":"%d"}', math.random(USERS)))
  elseif r <= 90 then
    local p = SKUS[math.random(#SKUS)]
    b = body(PLACE, string.format(
      '{"input":{"userId":"%d","items":[{"sku":"%s","name":"%s","quantity":%d,"unitPriceCents":%d}]}}',
      math.random(USERS), p[1], p[2], math.random(3), p[3]))
  else
    b = body(MARK, string.format('{"id":"%d"}', math.random(NOTIFICATIONS)))
  end
  return wrk.format("POST", nil, headers, b)
end
