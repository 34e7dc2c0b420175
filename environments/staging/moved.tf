# Everything the root declared before it became one call of modules/stack: the first apply since
# moves each into the stack instead of destroying it and creating a new one.

moved {
  from = module.database
  to   = module.stack.module.database
}

moved {
  from = module.storage
  to   = module.stack.module.storage
}

moved {
  from = module.downloads
  to   = module.stack.module.downloads
}

moved {
  from = module.queue
  to   = module.stack.module.queue
}

moved {
  from = module.secrets
  to   = module.stack.module.secrets
}

moved {
  from = module.download_signing_key
  to   = module.stack.module.download_signing_key
}

moved {
  from = module.api
  to   = module.stack.module.api
}

moved {
  from = aws_iam_role_policy.api_gateway_keys
  to   = module.stack.aws_iam_role_policy.api_gateway_keys
}

moved {
  from = module.worker
  to   = module.stack.module.worker
}

moved {
  from = module.api_gateway
  to   = module.stack.module.api_gateway
}

moved {
  from = module.observability
  to   = module.stack.module.observability
}

moved {
  from = module.cost
  to   = module.stack.module.cost
}

# count = 1 with a custom domain: the whole module moves, instance keys and all.
moved {
  from = module.domain
  to   = module.stack.module.domain
}
