"""The access model: who is acting, what they may do, and the HTTP gate that checks it."""
