-- The seats example: two plans, a seat limit, and a host function that the
-- engine calls whenever a customer hits a limit.
local limitr = require "limitr"

local policy = assert(limitr.new([[
policy:
  credits:
    seat:
      description: 'A single seat credit that can be tracked per customer.'
  plans:
    free:
      entitlements:
        seats:
          description: 'Each customer (user, org, etc.) with this plan can have up to this many seats.'
          limit:
            credit: 'seat'
            value: 1
            increment: 1
    paid:
      entitlements:
        seats:
          description: 'Each customer (user, org, etc.) with this plan can have up to this many seats.'
          limit:
            credit: 'seat'
            value: 3
            increment: 1
]], "yaml"))

policy:add_customer("cus_free_customer", "free")
policy:add_customer("cus_paid_customer", "paid")
policy:increment("cus_free_customer", "seats") -- adds one seat
policy:increment("cus_paid_customer", "seats") -- adds one seat

policy:lib("App", "meter_limit", function(record)
    if record.customer.plan == "free" and record.entitlement == "seats" then
        print(("FREE PLAN SEAT LIMIT HIT, current:  %s  requested:  %s"):format(
            record.customer.meters.seats.value, record.invalid_value))
    end
end)

-- returns false and emits meter-limit (App.meter_limit is called too)
if policy:increment("cus_free_customer", "seats") then error("will not get here") end
if policy:allow("cus_free_customer", "seats", 2) then error("cannot request 2 additional seats..") end
if not policy:increment("cus_paid_customer", "seats") then error("will not get here") end
